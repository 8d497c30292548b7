"""Reading a split's files with every check: IDX format, the right kind and shape, the count,
the content sha256, the label range. A file that fails any of them is an error naming it.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np

from ganzoo.data.errors import ChecksumError, DatasetMismatchError, IdxFormatError
from ganzoo.data.idx import (
    IdxHeader,
    check_size,
    idx_bytes,
    parse_header,
    read_content,
    to_array,
)
from ganzoo.data.spec import DatasetSpec, IdxFile, SplitSpec

Kind = Literal["images", "labels"]


def _fix(spec: DatasetSpec, split: SplitSpec, file: IdxFile) -> str:
    if split.bundled:
        return ("This file ships inside the ganzoo package: reinstall ganzoo "
                "(pip install --force-reinstall ganzoo).")
    mirror = f" from {spec.mirrors[0]}{file.gz_name}" if spec.mirrors else ""
    return (f"Delete it and rerun (ganzoo downloads a fresh copy when online), or replace it "
            f"with the official release{mirror}.")


def check_header(header: IdxHeader, kind: Kind, file: IdxFile, split: SplitSpec,
                 spec: DatasetSpec, source: str) -> None:
    """That the header declares the split's images (N x H x W uint8) or labels (N uint8)."""
    height, width, _ = spec.image_shape
    want_dims = (split.count, height, width) if kind == "images" else (split.count,)
    want = (f"the images file {file.name} ({split.count:,} x {height} x {width} uint8)"
            if kind == "images" else f"the labels file {file.name} ({split.count:,} uint8)")
    swapped = " Images and labels swapped?" if len(header.dims) != len(want_dims) else ""
    if len(header.dims) != len(want_dims) or header.dtype != np.uint8:
        raise DatasetMismatchError(
            f"{source}: is an {header.describe()}, but {spec.name} split '{split.name}' needs "
            f"{want} here.{swapped}"
        )
    if header.dims[1:] != want_dims[1:]:
        raise DatasetMismatchError(
            f"{source}: holds {header.dims[1]}x{header.dims[2]} images, {spec.title}'s are "
            f"{height}x{width}: this is not {spec.title}'s {file.name}."
        )
    if header.dims[0] != split.count:
        raise DatasetMismatchError(
            f"{source}: holds {header.dims[0]:,} {kind}, but split '{split.name}' of {spec.name} "
            f"has {split.count:,}: it is another split's file (or another dataset's)."
        )


def check_digest(digest: str, file: IdxFile, split: SplitSpec, spec: DatasetSpec,
                 source: str) -> None:
    """That the decompressed content hashes to the published sha256 (when one is published)."""
    if file.sha256 and digest != file.sha256:
        raise ChecksumError(
            f"{source}: checksum mismatch: its content hashes to sha256 {digest}, but "
            f"{spec.title}'s {file.name} is {file.sha256}. The file is corrupt or altered. "
            + _fix(spec, split, file)
        )


def check_labels(labels: np.ndarray, spec: DatasetSpec, source: str) -> None:
    """That every label names one of the dataset's classes: 0 <= label < len(classes).

    (A signed .npz label of -1 would otherwise become 255 in the uint8 labels.)
    """
    outside = (labels < 0) | (labels >= len(spec.classes))
    if labels.size and outside.any():
        bad = int(np.argmax(outside))
        raise DatasetMismatchError(
            f"{source}: label {int(labels[bad])} at index {bad}, but {spec.name} has "
            f"{len(spec.classes)} classes (0-{len(spec.classes) - 1}): not {spec.title} labels."
        )


def read_checked(path: Path, file: IdxFile, kind: Kind, split: SplitSpec,
                 spec: DatasetSpec) -> tuple[np.ndarray, str]:
    """One IDX file of ``split``, checked; returns the array and its content sha256."""
    source = str(path)
    try:
        # Read no more than the split's file can hold: a foreign file fails fast and small.
        data = read_content(path, limit=file.size)
        header = parse_header(data, source)
        check_header(header, kind, file, split, spec, source)
        check_size(header, data, source)
    except IdxFormatError as exc:
        raise IdxFormatError(f"{exc} {_fix(spec, split, file)}") from None
    digest = hashlib.sha256(data).hexdigest()
    check_digest(digest, file, split, spec, source)
    array = to_array(header, data)
    if kind == "images":
        array = array.reshape(-1, *spec.image_shape)
    else:
        check_labels(array, spec, source)
    return array, digest


def read_npz_checked(path: Path, keys: tuple[str, str], split: SplitSpec,
                     spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """A split from a Keras-style .npz, checked like the IDX files it was made from.

    The content hash is that of the IDX file the arrays encode, so the published sha256 applies.
    """
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels = npz[keys[0]], npz[keys[1]]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise IdxFormatError(
            f"{source}: not a readable .npz holding {keys[0]} and {keys[1]} ({exc}). "
            "Delete it, or name another copy with --data-dir."
        ) from None
    height, width, _ = spec.image_shape
    if images.shape != (split.count, height, width) or images.dtype != np.uint8:
        raise DatasetMismatchError(
            f"{source}: {keys[0]} is {images.dtype} {images.shape}, but {spec.name} split "
            f"'{split.name}' needs uint8 {(split.count, height, width)}."
        )
    if labels.shape != (split.count,) or labels.dtype.kind not in "iu":
        raise DatasetMismatchError(
            f"{source}: {keys[1]} is {labels.dtype} {labels.shape}, but {spec.name} split "
            f"'{split.name}' needs {split.count:,} integer labels."
        )
    check_labels(labels, spec, f"{source} [{keys[1]}]")
    labels = labels.astype(np.uint8)
    sums = {}
    for file, array, key in ((split.images, images, keys[0]), (split.labels, labels, keys[1])):
        digest = hashlib.sha256(idx_bytes(array)).hexdigest()
        check_digest(digest, file, split, spec, f"{source} [{key}]")
        sums[file.name] = digest
    return images.reshape(-1, *spec.image_shape), labels, sums
