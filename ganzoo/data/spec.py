"""What a dataset is: its splits and their files, checksums, licence, classes and mirrors.

A :class:`DatasetSpec` is plain data; plugins build their own and hand it to ``register`` in
their ``register_datasets`` hook, exactly as :mod:`ganzoo.data.builtin` does.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path

from ganzoo.errors import UsageError

# The copy of a split shipped inside a package is a split of its own, named explicitly, so
# asking for "test" never silently gets the bundled copy and "train" never gets the test images.
BUNDLED_PREFIX = "bundled-"


@dataclass(frozen=True)
class IdxFile:
    """One IDX file of a split, named as published but without its ``.gz`` suffix."""

    name: str
    size: int  # bytes once decompressed
    sha256: str | None = None  # of the decompressed content; None when nobody has published it
    archive_md5: str | None = None  # of the official mirror's .gz; checked on download only

    @property
    def gz_name(self) -> str:
        return f"{self.name}.gz"


@dataclass(frozen=True)
class SplitSpec:
    """A split: an images file (N x H x W uint8) and a labels file (N uint8)."""

    name: str
    count: int
    images: IdxFile
    labels: IdxFile
    bundled: bool = False  # served only from the dataset's bundled_dir, never looked up or fetched

    @property
    def files(self) -> tuple[IdxFile, IdxFile]:
        return (self.images, self.labels)

    @property
    def verified_by_checksum(self) -> bool:
        """Whether both files have a published content sha256 (else: header and size only)."""
        return all(f.sha256 for f in self.files)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset ganzoo can load by its short name (``--data fashion``)."""

    name: str  # short name users type: "fashion"
    title: str  # "Fashion-MNIST"
    folder: str  # folder name in a data directory: "fashion-mnist"
    licence: str
    homepage: str
    classes: tuple[str, ...]
    splits: tuple[SplitSpec, ...]
    mirrors: tuple[str, ...] = ()  # base URLs; a file's URL is mirror + its .gz name
    image_shape: tuple[int, int, int] = (28, 28, 1)  # H, W, C
    bundled_dir: Path | None = None  # folder holding "<folder>_<file>.gz" for bundled splits
    debian_package: str = ""  # installs <folder>/ under /usr/share/datasets
    keras_npz: str = ""  # Keras cache file (x_train, y_train, x_test, y_test), e.g. mnist.npz
    torchvision_name: str = ""  # torchvision's class name: files in <root>/<name>/raw/
    description: str = ""

    @property
    def split_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.splits)

    def split(self, name: str) -> SplitSpec:
        """The split called ``name``; an unknown name lists the others (exit code 2)."""
        for split in self.splits:
            if split.name == name:
                return split
        close = difflib.get_close_matches(name, self.split_names, n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise UsageError(
            f"Dataset '{self.name}' has no split '{name}'.{hint} "
            f"Its splits: {', '.join(self.split_names)}."
        )

    def bundled_file(self, file: IdxFile) -> Path | None:
        """Where the bundled copy of ``file`` lies (None when this dataset bundles nothing)."""
        if self.bundled_dir is None:
            return None
        return self.bundled_dir / f"{self.folder}_{file.gz_name}"


def bundled_copy(split: SplitSpec) -> SplitSpec:
    """The split ``bundled-<name>``: the same files and checksums, served from the package."""
    return dataclasses.replace(split, name=f"{BUNDLED_PREFIX}{split.name}", bundled=True)
