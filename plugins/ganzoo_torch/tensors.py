"""Crossing the numpy seam: NHWC arrays in and out of torch's NCHW tensors."""

from __future__ import annotations

import numpy as np
import torch


def to_nhwc_numpy(x: torch.Tensor) -> np.ndarray:
    """A network output as a float32 numpy array in the spec's channels-last order."""
    if x.dim() == 4:
        x = x.permute(0, 2, 3, 1)
    return x.detach().to("cpu", torch.float32).contiguous().numpy()


def nhwc_to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, H, W[, C]) float images as a float32 NCHW tensor on ``device``."""
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise ValueError(f"expected (N, H, W, C) images, got shape {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array)).to(device).permute(0, 3, 1, 2)
