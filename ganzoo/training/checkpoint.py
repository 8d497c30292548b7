"""Checkpoints: a run's full state as one safetensors file, written atomically.

The position in training (epoch, step, images seen, wall time) travels in the file's metadata,
so tensors and position can never disagree: a checkpoint is replaced by one ``os.replace``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from ganzoo.errors import GanzooError
from ganzoo.store.layout import CHECKPOINT_NAME  # noqa: F401 - the name, re-exported
from ganzoo.weights import save_atomically


def save_checkpoint(path: Path, state: Mapping[str, np.ndarray], position: dict[str, Any]) -> None:
    """Write ``state`` and ``position`` to ``path`` atomically (umask modes, typed errors)."""
    # np.require keeps 0-d arrays (step counters) 0-d; ascontiguousarray would make them (1,).
    tensors = {k: np.require(v, requirements="C") for k, v in state.items()}
    save_atomically(path, tensors, {"position": json.dumps(position)})


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
    for name, value in state.items():
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            raise GanzooError(f"checkpoint {path}: tensor {name} holds NaN or infinite values; "
                              "it cannot be resumed (train a new version instead)")
    return state, json.loads(meta["position"])
