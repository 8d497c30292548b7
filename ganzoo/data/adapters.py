"""From a dataset's uint8 images to the float tensors a backend trains on, placed once.

Pixels become ``(x - 127.5) / 127.5`` (0 -> -1, 255 -> 1), the seeds' formula; the
subtraction is exact in float32, so only the division rounds. The uint8 array crosses to the
device as is, a quarter of the bytes of float32, and is converted there; a trainer then slices
batches out of the device tensor, so the hot path makes no host-to-device copies. Frameworks
are imported inside the functions: the core never imports one at import time.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf
    import torch


def as_nhwc_uint8(images: np.ndarray) -> np.ndarray:
    """``images`` as a C-contiguous, writable (N, H, W, C) uint8 array ((N, H, W) gains C=1)."""
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {images.dtype}")
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(f"expected (N, H, W) or (N, H, W, C) images, got shape {images.shape}")
    # torch.from_numpy warns on read-only arrays; copy only when the input is one.
    return np.require(images, requirements=["C_CONTIGUOUS", "WRITEABLE"])


def to_torch(images: np.ndarray, device: Any = "cpu") -> torch.Tensor:
    """(N, H, W[, C]) uint8 -> float32 (N, C, H, W) in [-1, 1] on ``device``, in one transfer."""
    from ganzoo.frameworks import import_torch

    torch = import_torch()
    raw = torch.from_numpy(as_nhwc_uint8(images)).to(device)
    # NHWC -> NCHW while still uint8 (cheap), then convert in place on the device.
    nchw = raw.permute(0, 3, 1, 2).contiguous()
    return nchw.to(torch.float32).sub_(127.5).div_(127.5)


def to_tensorflow(images: np.ndarray, device: str | None = None) -> tf.Tensor:
    """(N, H, W[, C]) uint8 -> float32 (N, H, W, C) in [-1, 1], on ``device`` when named."""
    from ganzoo.frameworks import import_tensorflow

    tf = import_tensorflow()
    with tf.device(device) if device else nullcontext():
        raw = tf.convert_to_tensor(as_nhwc_uint8(images))
        return (tf.cast(raw, tf.float32) - 127.5) / 127.5
