"""Weights files: safetensors with canonical tensor names and a JSON metadata block.

Tensor names and layouts are the backend-neutral convention of :mod:`ganzoo.architecture`
(docs/weights.md), so a file written by one backend loads into another. Nothing is ever
unpickled: safetensors holds raw tensors and a string-to-string header.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.errors import StoreWriteError, WeightsFileError
from ganzoo.store.layout import WEIGHTS_NAME

FORMAT = "ganzoo-weights"
FORMAT_VERSION = 1
PARTS = ("generator", "discriminator")

# Written by every writer; checked by readers when present (files of older writers lack it).
CHECKSUM_KEY = "tensors_sha256"

REQUIRED_METADATA = (
    "format_version",
    "model_id",
    "family",
    "recipe",
    "backend",
    "latent_dim",
    "noise",
    "image_shape",
    "value_range",
    "parts",
)
# Descriptive keys every ganzoo writer adds; optional for readers, but typed when present.
OPTIONAL_METADATA: dict[str, type] = {
    "dataset": str,
    "split": str,
    "epochs": int,
    "steps": int,  # generator updates trained (a budget an importer can report)
    "max_steps": int,  # the run's per-epoch step cap, when it had one
    "seed": int,
    "layout": str,
    "ganzoo_version": str,
    "card_sha256": str,
    CHECKSUM_KEY: str,
}


def tensors_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of the tensors: per name in sorted order, ``"<name> <shape>\\n"`` then the
    little-endian float32 bytes. safetensors has no checksum; this catches flipped data bytes."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name], dtype="<f4")
        digest.update(f"{name} {','.join(str(d) for d in value.shape)}\n".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (what the registry records for a version's weights)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_weights(path: Path, arrays: Mapping[str, np.ndarray],
                  metadata: Mapping[str, Any], *, half: bool = False) -> Path:
    """Write canonical ``arrays`` with ``metadata`` (stored as JSON under the key 'ganzoo').

    ``half`` stores float16 (half the bytes: the shipped reference weights); readers get
    float32 back, and the checksum covers those float32 values, so it holds either way.
    """
    dtype = np.float16 if half else np.float32
    tensors = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in arrays.items()}
    # A writer always writes its own format version and a checksum of what it wrote, even when
    # ``metadata`` was copied from another file (export, import).
    meta = {**metadata, "format_version": FORMAT_VERSION, CHECKSUM_KEY: tensors_digest(tensors)}
    return save_atomically(path, tensors, {"format": FORMAT, "ganzoo": json.dumps(meta)})


def current_umask() -> int:
    """The process's umask (read without changing it for longer than one call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_atomically(path: Path, tensors: Mapping[str, np.ndarray],
                    metadata: Mapping[str, str]) -> Path:
    """Write a safetensors file via a temp file and one rename: all of it or nothing.

    The file gets the mode any other file would (0666 less the umask; the safetensors writer
    itself creates 0600). A failed write (disk full, no permission) removes the temp file and
    raises :class:`StoreWriteError` naming the path.
    """
    from safetensors import SafetensorError
    from safetensors import numpy as st_numpy

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        st_numpy.save_file(dict(tensors), str(tmp), metadata=dict(metadata))
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except (OSError, SafetensorError) as exc:
        tmp.unlink(missing_ok=True)
        full = getattr(exc, "errno", None) == errno.ENOSPC or "No space left" in str(exc)
        why = "the disk is full" if full else str(exc)
        raise StoreWriteError(
            f"cannot write {path}: {why}; nothing was written"
            + ("; free some space (or set GANZOO_HOME to another disk) and try again"
               if full else "")
        ) from None
    return path


def read_metadata(path: Path) -> dict[str, Any]:
    """The ganzoo metadata of a weights file, validated; typed errors for every bad file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if path.is_dir():
        raise WeightsFileError(f"{path} is a folder, not a weights file; name the "
                               f".safetensors file inside it (e.g. {path / WEIGHTS_NAME})")
    if not path.is_file():
        raise WeightsFileError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsFileError(
            f"{path} is not a readable safetensors file ({exc}); export one with 'ganzoo export'"
        ) from None
    if header.get("format") != FORMAT or "ganzoo" not in header:
        raise WeightsFileError(
            f"{path} is a safetensors file but has no ganzoo metadata; only files written by "
            "'ganzoo export' (or a training run) can be imported"
        )
    try:
        meta = json.loads(header["ganzoo"])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise WeightsFileError(f"{path}: the ganzoo metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise WeightsFileError(f"{path}: the ganzoo metadata is not a JSON object")
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise WeightsFileError(f"{path}: metadata lacks {', '.join(missing)}")
    version = meta["format_version"]
    if not _is_int(version) or version < 1:
        raise WeightsFileError(f"{path}: format_version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise WeightsFileError(
            f"{path} uses weights format version {version}, newer than this ganzoo understands "
            f"({FORMAT_VERSION}); upgrade ganzoo to read it"
        )
    problem = _metadata_problem(meta)
    if problem:
        raise WeightsFileError(f"{path}: metadata {problem}")
    return meta


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _metadata_problem(meta: Mapping[str, Any]) -> str | None:
    """What is wrong with the types of the required metadata values (None if nothing)."""
    for key in ("model_id", "family", "recipe", "backend", "noise"):
        if not isinstance(meta[key], str) or not meta[key]:
            return f"'{key}' must be a non-empty string, got {meta[key]!r}"
    if not _is_int(meta["latent_dim"]) or meta["latent_dim"] < 1:
        return f"'latent_dim' must be a positive integer, got {meta['latent_dim']!r}"
    shape = meta["image_shape"]
    if not (isinstance(shape, list) and len(shape) == 3
            and all(_is_int(d) and d > 0 for d in shape)):
        return f"'image_shape' must be [height, width, channels], got {shape!r}"
    low_high = meta["value_range"]
    if not (isinstance(low_high, list) and len(low_high) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in low_high)):
        return f"'value_range' must be [low, high], got {low_high!r}"
    parts = meta["parts"]
    if not (isinstance(parts, list) and parts and all(p in PARTS for p in parts)
            and len(set(parts)) == len(parts)):
        return f"'parts' must list some of {', '.join(PARTS)}, got {parts!r}"
    for key, kind in OPTIONAL_METADATA.items():
        value = meta.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"'{key}' must be of type {kind.__name__}, got {value!r}"
    return None


def read_weights(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Tensors and metadata of a weights file (see :func:`read_metadata` for the checks)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    meta = read_metadata(path)
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsFileError(f"{path} is truncated or corrupt: {exc}") from None
    for name, value in arrays.items():
        if value.dtype == np.float16:  # stored at half size; computed with in float32
            arrays[name] = value = value.astype(np.float32)
        if value.dtype != np.float32:
            raise WeightsFileError(f"{path}: tensor {name} is {value.dtype}, not float32 "
                                   "(or float16)")
        if name.partition(".")[0] not in meta["parts"]:
            raise WeightsFileError(
                f"{path}: tensor {name} is not under a part the metadata lists "
                f"({', '.join(meta['parts'])})"
            )
    for name, value in arrays.items():
        if not np.isfinite(value).all():
            raise WeightsFileError(
                f"{path}: tensor {name} holds NaN or infinite values; these weights are "
                "unusable (from a diverged run?): use a checkpoint from before the divergence"
            )
    expected = meta.get(CHECKSUM_KEY)
    if expected is not None and tensors_digest(arrays) != expected:
        raise WeightsFileError(
            f"{path} is corrupt: its tensors do not match the checksum in its metadata "
            "(was it modified or damaged in transfer?)"
        )
    return arrays, meta


def select_part(arrays: Mapping[str, np.ndarray], part: str) -> dict[str, np.ndarray]:
    """The tensors of one part ('generator', 'discriminator' or 'all')."""
    if part == "all":
        return dict(arrays)
    if part not in PARTS:
        raise WeightsFileError(f"unknown part '{part}': use generator, discriminator or all")
    return {k: v for k, v in arrays.items() if k.startswith(part + ".")}


def check_shapes(arrays: Mapping[str, np.ndarray], expected: Mapping[str, tuple[int, ...]],
                 source: str) -> None:
    """Every expected tensor present with its shape, and nothing unexpected."""
    missing = sorted(set(expected) - set(arrays))
    if missing:
        raise WeightsFileError(f"{source}: missing tensors {', '.join(missing[:5])}"
                               + (" ..." if len(missing) > 5 else ""))
    extra = sorted(set(arrays) - set(expected))
    if extra:
        raise WeightsFileError(f"{source}: unexpected tensors {', '.join(extra[:5])}"
                               + (" ..." if len(extra) > 5 else ""))
    for name, shape in expected.items():
        if tuple(arrays[name].shape) != tuple(shape):
            raise WeightsFileError(
                f"{source}: tensor {name} has shape {tuple(arrays[name].shape)}, the card "
                f"expects {tuple(shape)}"
            )
