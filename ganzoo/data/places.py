"""Where a split may lie on this machine, in the order ganzoo looks, and what it found there.

Order: the directory the user names (``--data-dir``, then ``$GANZOO_DATA``), ganzoo's cache,
well-known local copies (Debian's /usr/share/datasets, the Keras cache, the torchvision layout).
A download, when allowed, comes after all of these (:mod:`ganzoo.data.download`). Every place is
recorded, found or not, so a failure can say exactly where it looked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from ganzoo.data.errors import DatasetNotFoundError
from ganzoo.data.spec import BUNDLED_PREFIX, DatasetSpec, SplitSpec

DATA_ENV = "GANZOO_DATA"
CACHE_ENV = "GANZOO_CACHE"
OFFLINE_ENV = "GANZOO_OFFLINE"

# Debian's dataset-* packages install one folder per dataset here (module-level so tests can
# point it elsewhere; the machine running them may have the package installed).
SYSTEM_DATASET_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets"),)


def cache_dir() -> Path:
    """ganzoo's dataset cache: ``$GANZOO_CACHE/datasets`` or the platform's user cache."""
    root = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("ganzoo")
    return Path(root).expanduser() / "datasets"


def downloads_enabled() -> bool:
    """False when ``$GANZOO_OFFLINE`` is set to anything but 0/false/no/empty."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("", "0", "false", "no")


def _keras_datasets() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def _torchvision_roots() -> list[Path]:
    # torchvision has no default root; "data" under the working directory is the one the
    # PyTorch tutorials use. Any other root can be named with --data-dir.
    return [Path.cwd() / "data"]


@dataclass(frozen=True)
class Found:
    """A split located: its two files, or one Keras .npz holding both."""

    label: str  # which place, in words: "GANZOO_DATA", "ganzoo cache", ...
    images: Path
    labels: Path
    npz_keys: tuple[str, str] | None = None  # (images key, labels key) inside a Keras .npz

    @property
    def location(self) -> Path:
        return self.images if self.npz_keys else self.images.parent

    def __str__(self) -> str:
        return f"{self.location} ({self.label})"


@dataclass(frozen=True)
class Looked:
    """A place looked in without success, and why."""

    label: str
    path: Path | str | None
    outcome: str

    def __str__(self) -> str:
        where = f" {self.path}" if self.path is not None else ""
        return f"{self.label}{where}: {self.outcome}"


@dataclass(frozen=True)
class Place:
    """A folder that may hold a split's files (named ``<prefix><file>[.gz]``), or a Keras .npz."""

    label: str
    path: Path
    prefix: str = ""
    npz: bool = False

    def look(self, split: SplitSpec) -> Found | Looked:
        if self.npz:
            return self._look_npz(split)
        if not self.path.is_dir():
            return Looked(self.label, self.path, "no such folder")
        images, labels = (self._file(f.name) for f in split.files)
        if images and labels:
            return Found(self.label, images, labels)
        missing = [f"{self.prefix}{file.gz_name}" for file, path
                   in ((split.images, images), (split.labels, labels)) if path is None]
        have = " (has the other one)" if images or labels else ""
        return Looked(self.label, self.path, f"no {' nor '.join(missing)}{have}")

    def _file(self, name: str) -> Path | None:
        # Uncompressed first: torchvision keeps both, and raw reads faster than gunzip.
        for candidate in (f"{self.prefix}{name}", f"{self.prefix}{name}.gz"):
            if (self.path / candidate).is_file():
                return self.path / candidate
        return None

    def _look_npz(self, split: SplitSpec) -> Found | Looked:
        if split.name not in ("train", "test"):
            return Looked(self.label, self.path, f"holds no '{split.name}' split")
        if not self.path.is_file():
            return Looked(self.label, self.path, "no such file")
        keys = (f"x_{split.name}", f"y_{split.name}")
        return Found(self.label, self.path, self.path, keys)


def _folder_places(label: str, root: Path, spec: DatasetSpec) -> list[Place]:
    """The layouts a data directory may have: ``<root>/fashion-mnist/`` (as ../shared/datasets
    and /usr/share/datasets), the folder itself when named so, torchvision's ``<root>/<Name>/raw``.
    """
    places = [Place(label, root / spec.folder)]
    if root.name == spec.folder:
        places.append(Place(label, root))
    if spec.torchvision_name:
        places.append(Place(label, root / spec.torchvision_name / "raw"))
    return places


def candidate_places(
    spec: DatasetSpec, split: SplitSpec, data_dir: str | Path | None = None
) -> Iterator[Place | Looked]:
    """Every place to look for ``split``, in order (a :class:`Looked` for one that is unset)."""
    if split.bundled:
        if spec.bundled_dir is None:
            yield Looked("bundled with ganzoo", None, f"{spec.name} bundles no files")
        else:
            yield Place("bundled with ganzoo", spec.bundled_dir, prefix=f"{spec.folder}_")
        return
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise DatasetNotFoundError(
                f"--data-dir {root} is not a folder. Name a folder that holds {spec.folder}/ "
                f"(like ../shared/datasets or /usr/share/datasets), or leave --data-dir out."
            )
        yield from _folder_places("--data-dir", root, spec)
    env = os.environ.get(DATA_ENV)
    if env:
        yield from _folder_places(DATA_ENV, Path(env).expanduser(), spec)
    else:
        yield Looked(DATA_ENV, None, "not set")
    yield Place("ganzoo cache", cache_dir() / spec.folder)
    for system in SYSTEM_DATASET_DIRS:
        label = (f"Debian package {spec.debian_package}" if spec.debian_package
                 else "system datasets folder")
        yield Place(label, system / spec.folder)
    keras = _keras_datasets()
    yield Place("Keras cache", keras / spec.folder)
    if spec.keras_npz:
        yield Place("Keras cache", keras / spec.keras_npz, npz=True)
    if spec.torchvision_name:
        for root in _torchvision_roots():
            yield Place("torchvision layout", root / spec.torchvision_name / "raw")


@dataclass
class Resolution:
    """Where a split resolves now (``found``), and every place looked before it."""

    spec: DatasetSpec
    split: SplitSpec
    found: Found | None = None
    looked: list[Looked] = field(default_factory=list)

    def not_found(self, extra: list[Looked] | None = None) -> DatasetNotFoundError:
        """The error for a split found nowhere: every place looked, then the fix."""
        lines = [f"{self.spec.name} ({self.spec.title}) split '{self.split.name}' was not found."
                 " Looked in:"]
        lines += [f"  - {looked}" for looked in [*self.looked, *(extra or [])]]
        lines.append(f"Fix: {remedy(self.spec, self.split)}")
        return DatasetNotFoundError("\n".join(lines))


def resolve(spec: DatasetSpec, split: SplitSpec, data_dir: str | Path | None = None) -> Resolution:
    """Look for ``split`` in each place in order, without downloading or reading the files."""
    resolution = Resolution(spec, split)
    seen: set[tuple[Path, str]] = set()
    for place in candidate_places(spec, split, data_dir):
        if isinstance(place, Looked):
            resolution.looked.append(place)
            continue
        key = (place.path.resolve(), place.prefix)
        if key in seen:  # --data-dir and GANZOO_DATA naming the same folder
            continue
        seen.add(key)
        outcome = place.look(split)
        if isinstance(outcome, Found):
            resolution.found = outcome
            return resolution
        resolution.looked.append(outcome)
    return resolution


def remedy(spec: DatasetSpec, *splits: SplitSpec) -> str:
    """How to make ``splits`` of ``spec`` available, in one paragraph."""
    if any(split.bundled for split in splits):
        return ("the files bundled with ganzoo are missing from this installation: reinstall "
                "ganzoo (pip install --force-reinstall ganzoo).")
    files = ", ".join(f.gz_name for split in splits for f in split.files)
    steps = []
    if spec.mirrors:
        steps.append(f"when online, ganzoo downloads {files} once into "
                     f"{cache_dir() / spec.folder} (first mirror {spec.mirrors[0]})")
    steps.append(f"offline, copy {files} into DIR/{spec.folder}/ and pass --data-dir DIR "
                 f"or set {DATA_ENV}=DIR")
    if spec.debian_package:
        steps.append(f"on Debian, apt install {spec.debian_package}")
    bundled = [s for s in spec.splits if s.bundled]
    if bundled:
        choice = " or ".join(f"--split {s.name}" for s in bundled)
        steps.append(f"or use the copy shipped with ganzoo, no files needed: --data {spec.name} "
                     f"{choice} ({bundled[0].count:,} images of the "
                     f"{bundled[0].name.removeprefix(BUNDLED_PREFIX)} split)")
    return "; ".join(steps) + "."
