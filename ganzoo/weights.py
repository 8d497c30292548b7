"""Weights files: safetensors with canonical tensor names and a JSON metadata block.

Tensor names and layouts are the backend-neutral convention of :mod:`ganzoo.architecture`
(docs/weights.md), so a file written by one backend loads into another. Nothing is ever
unpickled: safetensors holds raw tensors and a string-to-string header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.errors import WeightsFileError

FORMAT = "ganzoo-weights"
FORMAT_VERSION = 1
WEIGHTS_NAME = "weights.safetensors"
PARTS = ("generator", "discriminator")

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


def write_weights(path: Path, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> Path:
    """Write canonical ``arrays`` with ``metadata`` (stored as JSON under the key 'ganzoo')."""
    from safetensors.numpy import save_file

    meta = {"format_version": FORMAT_VERSION, **metadata}
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": FORMAT, "ganzoo": json.dumps(meta)})
    tmp.replace(path)
    return path


def read_metadata(path: Path) -> dict[str, Any]:
    """The ganzoo metadata of a weights file, validated; typed errors for every bad file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
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
    except json.JSONDecodeError as exc:
        raise WeightsFileError(f"{path}: the ganzoo metadata is not valid JSON ({exc})") from None
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise WeightsFileError(f"{path}: metadata lacks {', '.join(missing)}")
    version = meta["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise WeightsFileError(
            f"{path} uses weights format version {version}, newer than this ganzoo understands "
            f"({FORMAT_VERSION}); upgrade ganzoo to read it"
        )
    return meta


def read_weights(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Tensors and metadata of a weights file (see :func:`read_metadata` for the checks)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    meta = read_metadata(path)
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsFileError(f"{path} is truncated or corrupt: {exc}") from None
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
