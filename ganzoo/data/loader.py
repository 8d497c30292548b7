"""``load_dataset``: a split by name, resolved, downloaded if need be, checked, in memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.data.errors import DownloadError
from ganzoo.data.places import OFFLINE_ENV, Found, Looked, downloads_enabled, resolve
from ganzoo.data.spec import DatasetSpec, SplitSpec
from ganzoo.data.verify import read_checked, read_npz_checked
from ganzoo.errors import UsageError


@dataclass(frozen=True, eq=False)
class LoadedDataset:
    """A split in memory (satisfies :class:`ganzoo.protocols.Dataset`)."""

    name: str
    split: str
    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) uint8, indices into ``classes``
    source: str  # where it came from: "<folder or file> (<which place>)"
    classes: tuple[str, ...] = ()
    sha256: Mapping[str, str] = field(default_factory=dict)  # file name -> content sha256
    verified: str = ""  # "sha256" or what was checked instead

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _spec(catalog_or_spec: Any, name: str | None) -> DatasetSpec:
    if isinstance(catalog_or_spec, DatasetSpec):
        if name is not None and name != catalog_or_spec.name:
            raise UsageError(f"load_dataset got the spec of '{catalog_or_spec.name}' but the "
                             f"name '{name}'.")
        return catalog_or_spec
    if name is None:
        raise UsageError("load_dataset needs a dataset name (fashion, mnist, ...).")
    if catalog_or_spec is None:  # no catalog: the built-in datasets only
        from ganzoo.data.builtin import BUILTIN_DATASETS

        known = {spec.name: spec for spec in BUILTIN_DATASETS}
        if name not in known:
            raise UsageError(f"Unknown dataset '{name}'. Built-in datasets: "
                             f"{', '.join(sorted(known))}.")
        return known[name]
    return catalog_or_spec.dataset(name)


def _read(spec: DatasetSpec, split: SplitSpec, found: Found) -> LoadedDataset:
    if found.npz_keys:
        images, labels, sums = read_npz_checked(found.images, found.npz_keys, split, spec)
    else:
        images, image_sum = read_checked(found.images, split.images, "images", split, spec)
        labels, label_sum = read_checked(found.labels, split.labels, "labels", split, spec)
        sums = {split.images.name: image_sum, split.labels.name: label_sum}
    verified = ("sha256" if split.verified_by_checksum
                else "header, count and size (no content sha256 is published for this split)")
    return LoadedDataset(spec.name, split.name, images, labels, str(found), spec.classes, sums,
                         verified)


def load_dataset(
    catalog_or_spec: Any,
    name: str | None = None,
    split: str = "train",
    data_dir: str | Path | None = None,
    download: bool = True,
    progress: bool = True,
) -> LoadedDataset:
    """Load ``split`` of dataset ``name``, checked against its published checksums.

    ``catalog_or_spec`` is a :class:`~ganzoo.catalog.Catalog` (the name is looked up there), a
    :class:`DatasetSpec`, or None for the built-in datasets. Looks in ``data_dir``,
    ``$GANZOO_DATA``, the cache and well-known local copies, then downloads into the cache
    when ``download`` is true and ``$GANZOO_OFFLINE`` is unset. ``bundled-test`` is the copy of
    the test split shipped inside ganzoo. Raises :class:`DatasetNotFoundError` listing every place
    looked, or a :class:`DatasetError` naming a file that fails its checks.
    """
    spec = _spec(catalog_or_spec, name)
    split_spec = spec.split(split)
    resolution = resolve(spec, split_spec, data_dir)
    found = resolution.found
    if found is None and not split_spec.bundled:
        found, why = _download(spec, split_spec, download, progress)
        if found is None:
            raise resolution.not_found([Looked("download", None, why)])
    if found is None:
        raise resolution.not_found()
    return _read(spec, split_spec, found)


def _download(spec: DatasetSpec, split: SplitSpec, allowed: bool,
              progress: bool) -> tuple[Found | None, str]:
    if not allowed:
        return None, "not attempted (download=False)"
    if not downloads_enabled():
        return None, f"off, because {OFFLINE_ENV} is set"
    if not spec.mirrors:
        return None, f"{spec.name} names no mirror"
    # Imported here: rich's progress machinery is only needed when a download happens.
    from ganzoo.data.download import download_split

    try:
        return download_split(spec, split, progress=progress), ""
    except DownloadError as exc:
        return None, str(exc)
