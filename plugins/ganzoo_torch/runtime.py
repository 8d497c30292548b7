"""torch itself, for every module here: where it runs (device, CPU threads) and the numpy seam.

Devices use :func:`ganzoo.devices.parse_device`'s vocabulary; arrays cross to and from torch in
the card's channels-last (NHWC) order, while torch works in NCHW inside.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ganzoo.devices import parse_device
from ganzoo.errors import UsageError


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name`` (:func:`ganzoo.devices.parse_device`'s vocabulary):
    ``auto`` is CUDA when available, else the CPU; asking for a missing GPU is an error."""
    asked = parse_device(name)
    if asked.kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if asked.kind == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count <= (asked.index or 0):
        raise UsageError(f"--device {asked} was asked for, but torch sees {count} CUDA "
                         "device(s); use --device cpu or auto")
    return torch.device("cuda", asked.index)


def use_cores(count: int | None = None) -> None:
    """Let torch use ``count`` threads; by default ``OMP_NUM_THREADS`` where the user set it
    (on a machine shared with other jobs one thread can be several times faster than two:
    benchmarks/README.md), else every core this process may run on."""
    if count is None and os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():
        count = int(os.environ["OMP_NUM_THREADS"])
    if count is None:
        try:
            count = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            count = os.cpu_count() or 1
    torch.set_num_threads(max(1, int(count)))


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
