"""Datasets: specs, the IDX reader, resolution (local copies, cache, download) and loading.

``load_dataset(catalog, "fashion", split="train")`` returns the split in memory, checked against
its published checksums. Splits are ``train``, ``test`` and ``bundled-test`` (the test split
shipped inside ganzoo, for offline use). Backend adapters live in :mod:`ganzoo.data.adapters`
and import their framework only when called. See docs/datasets.md.
"""

from ganzoo.data.errors import (
    ChecksumError,
    DatasetMismatchError,
    DatasetNotFoundError,
    DownloadError,
    IdxFormatError,
)
from ganzoo.data.idx import parse_idx, read_idx, write_idx
from ganzoo.data.loader import LoadedDataset, load_dataset
from ganzoo.data.places import (
    CACHE_ENV,
    DATA_ENV,
    OFFLINE_ENV,
    Resolution,
    cache_dir,
    downloads_enabled,
    remedy,
    resolve,
)
from ganzoo.data.spec import BUNDLED_PREFIX, DatasetSpec, IdxFile, SplitSpec, bundled_copy

BUNDLED_TEST = f"{BUNDLED_PREFIX}test"

__all__ = [
    "BUNDLED_PREFIX",
    "BUNDLED_TEST",
    "CACHE_ENV",
    "DATA_ENV",
    "OFFLINE_ENV",
    "ChecksumError",
    "DatasetMismatchError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DownloadError",
    "IdxFile",
    "IdxFormatError",
    "LoadedDataset",
    "Resolution",
    "SplitSpec",
    "bundled_copy",
    "cache_dir",
    "downloads_enabled",
    "load_dataset",
    "parse_idx",
    "read_idx",
    "remedy",
    "resolve",
    "write_idx",
]
