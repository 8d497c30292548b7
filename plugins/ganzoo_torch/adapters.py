"""From a dataset's uint8 images to the float tensor the torch trainer trains on, placed once.

Pixels become ``(x - 127.5) / 127.5`` (0 -> -1, 255 -> 1), the seeds' formula; the
subtraction is exact in float32, so only the division rounds. The uint8 array crosses to the
device as is, a quarter of the bytes of float32, and is converted there; the trainer then
slices batches out of the device tensor, so the hot path makes no host-to-device copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ganzoo.data.adapters import as_nhwc_uint8


def to_torch(images: np.ndarray, device: Any = "cpu") -> torch.Tensor:
    """(N, H, W[, C]) uint8 -> float32 (N, C, H, W) in [-1, 1] on ``device``, in one transfer."""
    raw = torch.from_numpy(as_nhwc_uint8(images)).to(device)
    # NHWC -> NCHW while still uint8 (cheap), then convert in place on the device.
    nchw = raw.permute(0, 3, 1, 2).contiguous()
    return nchw.to(torch.float32).sub_(127.5).div_(127.5)
