"""Torch modules for the spec layers whose meaning differs from torch's built-ins.

The spec is channels-last and uses TensorFlow's ``same`` padding (ganzoo.architecture); torch
computes NCHW and pads symmetrically. These modules bridge the two so that a Keras-trained
weight file gives the same outputs here. Each keeps its tensors as ``weight``/``bias`` directly
on itself, so ``state_dict()`` keys stay ``"{index}.weight"``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def tf_same_conv_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's ``same`` rule for a convolution."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def tf_same_transpose_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) cropping of a full transposed convolution down to ``size * stride``."""
    total = max((size - 1) * stride + kernel - size * stride, 0)
    return total // 2, total - total // 2


def _to_channels_last(x: torch.Tensor) -> torch.Tensor:
    # A 4-D torch tensor is NCHW; the spec's order is N, H, W, C.
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


SN_EPSILON = 1e-12  # floor of a norm in the power iteration (torch's F.normalize default)


def _unit_vector(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, dim=0, eps=SN_EPSILON)


@torch.compiler.disable
def _store(u: torch.Tensor, new_u: torch.Tensor) -> None:
    """``u <- new_u``, outside any compiled graph.

    Compiled with the rest (torch 2.14, inductor on CPU), the in-place update of the buffer
    gave wrong weight gradients (off by ~1e-2 relative, outputs right); as a graph break it
    gives eager's (tests/test_vocabulary.py::test_torch_compile_keeps_spectral_norm_gradients).
    """
    with torch.no_grad():
        u.copy_(new_u)


def spectral_normalised(weight: torch.Tensor, u: torch.Tensor, out_axis: int,
                        update: bool) -> torch.Tensor:
    """``weight / sigma``, sigma its largest singular value by one power iteration from ``u``.

    ``weight`` is viewed as a matrix ``W`` of shape (units along ``out_axis``, everything
    else); ``v = W^T u / |W^T u|``, ``u' = W v / |W v|``, ``sigma = u' . W v``. ``u`` and ``v``
    carry no gradient, ``sigma`` does (Miyato et al. 2018). ``update`` stores ``u'`` in ``u``
    (a training forward); an inference forward leaves it alone. Computed in float32, outside
    autocast, whatever precision the layer then runs in.
    """
    with torch.autocast(device_type=weight.device.type, enabled=False):
        matrix = weight.float().movedim(out_axis, 0).flatten(1)
        fixed = matrix.detach()
        v = _unit_vector(fixed.t() @ u.float())
        new_u = _unit_vector(fixed @ v)
        if update:
            _store(u, new_u)
        sigma = torch.dot(new_u, matrix @ v)
        return (weight.float() / sigma).to(weight.dtype)


class _SpectralKernel:
    """The kernel a layer computes with: its ``weight``, spectrally normalised if asked.

    :meth:`use_spectral_norm` adds the buffer ``sn_u`` (one entry per output unit), so the
    state-dict key is ``"{index}.sn_u"``, the canonical name without its prefix.
    """

    weight: torch.Tensor
    training: bool
    sn_u: torch.Tensor
    sn_axis: int | None = None

    def use_spectral_norm(self, out_axis: int) -> None:
        self.sn_axis = out_axis
        units = self.weight.shape[out_axis]
        self.register_buffer("sn_u", _unit_vector(torch.randn(units)))  # type: ignore[attr-defined]

    def kernel(self) -> torch.Tensor:
        if self.sn_axis is None:
            return self.weight
        return spectral_normalised(self.weight, self.sn_u, self.sn_axis, self.training)


class Dense(_SpectralKernel, nn.Linear):
    """A dense layer on the spec's last (channel) axis, whatever layout torch computes in."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:  # a dense layer on an image acts on channels: go NHWC and back
            return F.linear(x.permute(0, 2, 3, 1), self.kernel(), self.bias).permute(0, 3, 1, 2)
        return F.linear(x, self.kernel(), self.bias)


class Conv2d(_SpectralKernel, nn.Conv2d):
    """``nn.Conv2d`` (``valid`` padding) that can normalise its kernel spectrally."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.kernel(), self.bias)


class ConvTranspose2d(_SpectralKernel, nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (``valid`` padding) that can normalise its kernel spectrally."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return F.conv_transpose2d(x, self.kernel(), self.bias, self.stride, self.padding)


class LayerNorm(nn.LayerNorm):
    """Layer normalisation over the spec's last (channel) axis, as Keras' default does.

    An NCHW image is normalised at each pixel over its channels (Keras: ``axis=-1`` on NHWC).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return super().forward(x)


class SameConv2d(_SpectralKernel, nn.Conv2d):
    """Conv2d with TensorFlow ``same`` padding for a fixed input size (extra padding after)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 bias: bool, input_hw: tuple[int, int]):
        pads = [tf_same_conv_padding(size, kernel, stride) for size in input_hw]
        symmetric = all(before == after for before, after in pads)
        super().__init__(in_channels, out_channels, kernel, stride,
                         padding=tuple(p[0] for p in pads) if symmetric else 0, bias=bias)
        (top, bottom), (left, right) = pads
        # F.pad order is (left, right, top, bottom); None when the built-in padding does it.
        self.explicit_pad = None if symmetric else (left, right, top, bottom)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.explicit_pad is not None:
            x = F.pad(x, self.explicit_pad)
        return self._conv_forward(x, self.kernel(), self.bias)


class SameConvTranspose2d(_SpectralKernel, nn.ConvTranspose2d):
    """ConvTranspose2d whose output is ``input * stride``, cropped as TensorFlow crops it."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 bias: bool, input_hw: tuple[int, int]):
        crops = [tf_same_transpose_padding(size, kernel, stride) for size in input_hw]
        # torch crops `padding` from both sides; the rest of TF's (larger) after-crop is a slice.
        super().__init__(in_channels, out_channels, kernel, stride,
                         padding=tuple(c[0] for c in crops), bias=bias)
        self.out_hw = tuple(size * stride for size in input_hw)
        torch_out = tuple((size - 1) * stride + kernel - 2 * before
                          for size, (before, _) in zip(input_hw, crops, strict=True))
        self.needs_slice = torch_out != self.out_hw
        # See as_convolution(); off by default, so a plain build computes what a reader of
        # the seed would write (nn.ConvTranspose2d).
        self.compute_as_conv = False

    def can_compute_as_conv(self) -> bool:
        """Whether this transpose equals a convolution with the flipped kernel (stride 1)."""
        return self.stride == (1, 1) and all(
            p <= k - 1 for p, k in zip(self.padding, self.kernel_size, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        weight = self.kernel()
        if self.compute_as_conv:
            # A stride-1 transposed convolution is the convolution with the kernel flipped
            # spatially and its channel axes swapped, padded by k - 1 - p: same result, same
            # parameter. On CPU (oneDNN), in NCHW, it measured 1.15x faster forward and
            # backward than the transpose for seed 000's 512->128 layer (benchmarks/README.md).
            kernel = weight.flip(2, 3).transpose(0, 1).contiguous()
            pad = tuple(k - 1 - p for k, p in zip(self.kernel_size, self.padding, strict=True))
            y = F.conv2d(x.contiguous(), kernel, self.bias, 1, pad)
        else:
            y = F.conv_transpose2d(x, weight, self.bias, self.stride, self.padding)
        if self.needs_slice:
            y = y[:, :, : self.out_hw[0], : self.out_hw[1]]
        return y


class Dropout(nn.Dropout):
    """``nn.Dropout`` that can draw its mask with ``rand_like`` (``fast_mask``, off by default).

    On CPU, torch's dropout draws its mask with ``bernoulli_``, which measured about 2x slower
    forward + backward than a uniform draw compared with the rate, for a (128, 64, 14, 14)
    activation. Both keep each unit with probability ``1 - p`` and scale by ``1 / (1 - p)``.
    """

    fast_mask = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.fast_mask and self.training) or self.p == 0.0:
            return super().forward(x)
        if self.p >= 1.0:
            return x * 0.0
        keep = torch.rand_like(x) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


class _KerasMovingStatistics:
    """Batch normalisation whose running variance follows Keras, not torch.

    Both normalise a training batch with its biased variance, but torch blends the *unbiased*
    one (``n / (n - 1)`` times larger) into ``running_var`` where Keras blends the biased one;
    at the seeds' batch of 32 torch's statistic comes out about 3% larger. Here torch's blend
    is corrected on the per-channel buffer alone (no second pass over the batch): with ``m``
    torch's momentum and ``u`` the unbiased variance, torch computes ``b = (1 - m) old + m u``;
    Keras wants ``b - m u / n = b - (b - (1 - m) old) / n``.

    Torch blends into a copy of the buffer: the autograd graph keeps the tensor it was given,
    so the buffer itself may then change in place before the backward pass.
    """

    num_features: int
    momentum: float | None
    eps: float
    running_mean: torch.Tensor | None
    running_var: torch.Tensor | None
    num_batches_tracked: torch.Tensor | None
    weight: torch.Tensor | None
    bias: torch.Tensor | None
    training: bool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.running_var is None or self.momentum is None:
            return self._from_channels_axis(
                nn.modules.batchnorm._BatchNorm.forward(self, self._to_channels_axis(x)))
        x = self._to_channels_axis(x)
        blended = self.running_var.clone()
        y = F.batch_norm(x, self.running_mean, blended, self.weight, self.bias, True,
                         self.momentum, self.eps)
        n = x.numel() // self.num_features  # values per channel in this batch
        with torch.no_grad():
            old = self.running_var
            if n > 1:
                blended = blended - (blended - (1.0 - self.momentum) * old) / n
            old.copy_(blended)
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
        return self._from_channels_axis(y)

    def _to_channels_axis(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _from_channels_axis(self, y: torch.Tensor) -> torch.Tensor:
        return y


class BatchNorm1d(_KerasMovingStatistics, nn.BatchNorm1d):
    """Batch normalisation of (N, C) features, Keras' running variance."""


class BatchNorm2d(_KerasMovingStatistics, nn.BatchNorm2d):
    """Batch normalisation of NCHW images over C, Keras' running variance."""


class FeaturesLastBatchNorm1d(_KerasMovingStatistics, nn.BatchNorm1d):
    """Batch normalisation of an (N, L, C) tensor over its last axis, as Keras does.

    torch's BatchNorm1d takes features on axis 1; only a spec shape of rank 2 needs this.
    """

    def _to_channels_axis(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)

    def _from_channels_axis(self, y: torch.Tensor) -> torch.Tensor:
        return y.transpose(1, 2)


class Reshape(nn.Module):
    """Reshape in the spec's channels-last order; a 3-D target becomes an NCHW tensor."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _to_channels_last(x).reshape(x.shape[0], *self.shape)
        return x.permute(0, 3, 1, 2) if len(self.shape) == 3 else x

    def extra_repr(self) -> str:
        return f"shape={self.shape} (channels-last)"


class Flatten(nn.Module):
    """Flatten in the spec's H, W, C order, so dense weights match Keras's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _to_channels_last(x).flatten(1)
