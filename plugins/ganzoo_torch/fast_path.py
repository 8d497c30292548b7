"""Device-specific ways of computing the same networks faster, chosen by measurement.

None of them changes a parameter's shape or name, so weights, checkpoints and exports are the
same whichever is used; the plain build (``nets.build_network``) stays what a seed reader
would write, and the benchmarks' seed-style loops use that.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import Dropout, SameConvTranspose2d


def speed_up_for(net: nn.Module, device: torch.device) -> nn.Module:
    """Switch ``net`` (in place) to the fastest measured formulation for ``device``.

    On CPU: channels-last memory for 4-D tensors (oneDNN's native layout; the convolutions
    stop converting layouts around every call), except stride-1 transposed convolutions,
    computed as convolutions in NCHW (for seed 000's 512-channel 7x7 layer both choices
    measured faster; benchmarks/README.md); dropout masks drawn with ``rand_like``. On CUDA
    nothing changes: unmeasured here.
    """
    if device.type != "cpu":
        return net
    net.to(memory_format=torch.channels_last)
    for module in net.modules():
        if isinstance(module, SameConvTranspose2d) and module.can_compute_as_conv():
            module.compute_as_conv = True
            module.weight.data = module.weight.data.contiguous()
        if isinstance(module, Dropout):
            module.fast_mask = True
    return net


def image_layout(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The training images in the memory layout :func:`speed_up_for` chose for ``device``."""
    if device.type == "cpu" and images.dim() == 4:
        return images.contiguous(memory_format=torch.channels_last)
    return images
