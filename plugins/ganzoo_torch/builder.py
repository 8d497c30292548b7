"""The one network builder: a NetSpec becomes an ``nn.Sequential``, layer i as module i.

Because module indices equal spec indices, ``state_dict()`` keys are the canonical names
without their prefix (``generator.3.weight`` is module 3's ``weight``, ``generator.3.sn_u``
its spectral-norm vector); :mod:`ganzoo_torch.canonical` reads and writes them.

:func:`speed_up_for` and :func:`image_layout` are the device-specific layout of the same
networks, chosen by measurement. They change no parameter's shape or name, so weights,
checkpoints and exports are the same whichever is used; the plain build
(:func:`build_network`) stays what a seed reader would write, and the benchmarks' seed-style
loops use that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ganzoo.architecture import KERNEL_KINDS, OUTPUT_AXIS, LabelInput, LayerSpec, NetSpec
from ganzoo_torch.layers import (
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    Dense,
    Dropout,
    FeaturesLastBatchNorm1d,
    Flatten,
    LayerNorm,
    Reshape,
    SameConv2d,
    SameConvTranspose2d,
)

if TYPE_CHECKING:
    from ganzoo.cards import Recipe

def build_networks(recipe: Recipe) -> tuple[nn.Sequential, nn.Sequential]:
    """The recipe's (generator, discriminator), built as ganzoo's own torch trainer builds them.

    Public (``ganzoo_torch.build_networks``): module ``i`` is the card's layer ``i``, so
    ``state_dict()`` keys are the canonical names without their ``generator.`` /
    ``discriminator.`` prefix; images are NCHW inside, but ``reshape`` and ``flatten`` follow
    the card's channels-last order and ``same`` padding is TensorFlow's, so canonical weights
    give a Keras build's outputs. Weights are drawn from torch's global RNG (seed it first).
    """
    return build_network(recipe.generator), build_network(recipe.discriminator)


def build_network(spec: NetSpec) -> nn.Sequential:
    """Build the network with Keras-style initialisation (glorot-uniform weights, zero biases).

    A spec with a ``label`` gives a :class:`LabelledNet` (called as ``net(x, labels)``).
    """
    modules = []
    shape = spec.layers_input_shape
    for row, layer in zip(spec.summary(), spec.layers, strict=True):
        modules.append(_build_layer(layer, shape))
        shape = row.output_shape
    net = nn.Sequential(*modules) if spec.label is None else LabelledNet(modules, spec.label)
    keras_init_(net)
    return net


class LabelledNet(nn.Sequential):
    """A class-conditional network: the card's layers as modules ``0..n-1`` plus
    ``embedding`` (the (classes, dim) table), so ``state_dict()`` keys stay canonical.

    ``concat``: ``forward(z, labels)`` runs the layers on ``[z, embed(labels)]``.
    ``projection``: the last layer's input ``h`` also gives ``<embed(labels), h>``, added to
    its output (Miyato & Koyama 2018). Iterating the net yields its layers only.
    """

    def __init__(self, layers: list[nn.Module], label: LabelInput):
        super().__init__(*layers)
        self.count = len(layers)
        self.label = label
        self.embedding = nn.Embedding(label.classes, label.dim)

    def __iter__(self):  # the layers, not the embedding
        return (self._modules[str(i)] for i in range(self.count))

    def __len__(self) -> int:
        return self.count

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        table = self.embedding(labels.long())
        if self.label.mode == "concat":
            x = torch.cat([x, table.to(x.dtype)], dim=1)
            for module in self:
                x = module(x)
            return x
        layers = list(self)
        for module in layers[:-1]:
            x = module(x)
        return layers[-1](x) + (table.to(x.dtype) * x).sum(dim=1, keepdim=True)


def _build_layer(layer: LayerSpec, shape: tuple[int, ...]) -> nn.Module:
    module = _build_module(layer, shape)
    if layer.kind in KERNEL_KINDS and layer["spectral_norm"]:
        module.use_spectral_norm(OUTPUT_AXIS[layer.kind])
    return module


def _build_module(layer: LayerSpec, shape: tuple[int, ...]) -> nn.Module:
    kind = layer.kind
    if kind == "dense":
        return Dense(shape[-1], layer["units"], bias=layer["bias"])
    if kind in ("conv", "conv_transpose"):
        h, w, c = shape
        k, s, f, bias = layer["kernel"], layer["stride"], layer["filters"], layer["bias"]
        if layer["padding"] == "valid":
            cls = Conv2d if kind == "conv" else ConvTranspose2d
            return cls(c, f, k, s, padding=0, bias=bias)
        cls = SameConv2d if kind == "conv" else SameConvTranspose2d
        return cls(c, f, k, s, bias, (h, w))
    if kind == "layer_norm":
        # Keras' LayerNormalization(axis=-1): gamma ones, beta zeros, the card's epsilon.
        return LayerNorm(shape[-1], eps=layer["epsilon"])
    if kind == "batch_norm":
        # The spec normalises its last axis: torch's channel axis for images (rank 3, NCHW)
        # and flat features (rank 1); a rank-2 shape keeps features last.
        classes = {1: BatchNorm1d, 2: FeaturesLastBatchNorm1d, 3: BatchNorm2d}
        if len(shape) not in classes:
            raise ValueError(f"batch_norm on a rank-{len(shape)} shape {shape} is not supported")
        # Keras' momentum weighs the old statistic, torch's the new one; the running
        # variance follows Keras too (layers._KerasMovingStatistics).
        return classes[len(shape)](shape[-1], eps=layer["epsilon"],
                                   momentum=1.0 - layer["momentum"])
    if kind == "leaky_relu":
        return nn.LeakyReLU(layer["slope"])
    if kind == "relu":
        return nn.ReLU()
    if kind == "tanh":
        return nn.Tanh()
    if kind == "sigmoid":
        return nn.Sigmoid()
    if kind == "dropout":
        return Dropout(layer["rate"])
    if kind == "reshape":
        return Reshape(layer["shape"])
    if kind == "flatten":
        return Flatten()
    raise ValueError(f"no torch module for layer kind '{kind}'")  # pragma: no cover


@torch.no_grad()
def keras_init_(net: nn.Module) -> None:
    """Glorot-uniform kernels and zero biases, as Keras initialises them.

    Glorot's bound depends on fan_in + fan_out only, so torch's and Keras's kernel layouts
    give the same distribution; this keeps torch and Keras runs of a card comparable.
    """
    for module in net.modules():
        if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                module.bias.zero_()
    if isinstance(net, LabelledNet):
        # Keras' initialisers of ganzoo_keras.builder's label layers: N(0, 1) for an embedding
        # joined to the latent vector (its scale), Glorot-uniform for a projection table.
        if net.label.mode == "concat":
            nn.init.normal_(net.embedding.weight)
        else:
            nn.init.xavier_uniform_(net.embedding.weight)


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
