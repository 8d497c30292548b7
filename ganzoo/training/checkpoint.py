"""Checkpoints: a run's full state as one safetensors file, written atomically.

The position in training (epoch, step, images seen, wall time) travels in the file's metadata,
so tensors and position can never disagree: a checkpoint is replaced by one ``os.replace``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from ganzoo.errors import GanzooError

CHECKPOINT_NAME = "checkpoint.safetensors"


def save_checkpoint(path: Path, state: Mapping[str, np.ndarray], position: dict[str, Any]) -> None:
    """Write ``state`` and ``position`` to ``path`` atomically."""
    # np.require keeps 0-d arrays (step counters) 0-d; ascontiguousarray would make them (1,).
    tensors = {k: np.require(v, requirements="C") for k, v in state.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"position": json.dumps(position)})
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint: (state, position)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise GanzooError(f"cannot read checkpoint {path}: {exc}") from None
    if "position" not in meta:
        raise GanzooError(f"{path} is not a ganzoo checkpoint (no position metadata)")
    return state, json.loads(meta["position"])
