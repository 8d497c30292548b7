"""The torch backend: what ``ganzoo_torch.plugin`` registers for every family.

``create_backend(spec)`` is the factory the catalog calls. The backend holds nothing
family-specific: networks come from the recipe's NetSpecs, training from the one trainer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ganzoo.architecture import NetSpec
from ganzoo.protocols import Capabilities, LayerRow, TrainConfig
from ganzoo_torch import distributed
from ganzoo_torch.builder import build_network
from ganzoo_torch.canonical import TORCH_ONLY_BUFFERS, load_canonical_weights
from ganzoo_torch.inference import TorchDiscriminator, TorchGenerator
from ganzoo_torch.runtime import resolve_device
from ganzoo_torch.trainer import TorchTrainer

if TYPE_CHECKING:
    from ganzoo.cards import Recipe
    from ganzoo.catalog import ModelSpec

# Where load_generator / load_discriminator place a network: evaluation runs on the CPU.
LOAD_DEVICE = "cpu"


def _build_quietly(spec: NetSpec) -> nn.Sequential:
    # Building initialises weights from the global RNG; summaries and loaders must not shift
    # the random stream of a training run in the same process.
    with torch.random.fork_rng(devices=[]):
        return build_network(spec)


def _spec_shape(x: torch.Tensor) -> tuple[int | None, ...]:
    shape = tuple(x.shape[1:])
    if x.dim() == 4:  # NCHW -> the spec's (H, W, C)
        shape = (shape[1], shape[2], shape[0])
    return (None, *shape)


def _layer_rows(network: str, spec: NetSpec) -> list[LayerRow]:
    net = _build_quietly(spec).eval()
    x = torch.zeros(2, *spec.layers_input_shape)  # a concat generator's z joined to its label
    if len(spec.input_shape) == 3:
        x = x.permute(0, 3, 1, 2)
    rows = []
    with torch.no_grad():
        for index, module in enumerate(net):
            x = module(x)
            trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
            frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
            # BN running statistics are weights that are not trained, as Keras counts them.
            frozen += sum(b.numel() for name, b in module.named_buffers()
                          if name.rsplit(".", 1)[-1] not in TORCH_ONLY_BUFFERS)
            rows.append(LayerRow(network, f"{network}.{index}", type(module).__name__,
                                 _spec_shape(x), trainable, frozen))
    if spec.label is not None:  # the class-label table, which is no layer of the card's
        rows.append(LayerRow(network, f"{network}.embedding", "Embedding",
                             (None, spec.label.dim), net.embedding.weight.numel(), 0))
    return rows


class TorchBackend:
    """Implements :class:`ganzoo.protocols.Backend` for every card."""

    name = "torch"
    # Several devices through torchrun ranks (distributed.py), CUDA, bf16 autocast,
    # torch.compile.
    capabilities = Capabilities(multi_device=True, cuda=True, amp=True, compile=True)

    def launch(self, devices: int, argv: list[str]) -> int:
        """Run ``ganzoo argv`` as ``devices`` torchrun ranks; their exit code."""
        return distributed.launch(devices, argv)

    def rank(self) -> int | None:
        """This process's torchrun rank (None outside torchrun)."""
        return distributed.rank()

    def summary(self, recipe: Recipe) -> list[LayerRow]:
        """Both networks layer by layer: output shapes from a real forward, counts from torch."""
        return [*_layer_rows("generator", recipe.generator),
                *_layer_rows("discriminator", recipe.discriminator)]

    def create_trainer(
        self, recipe: Recipe, config: TrainConfig, images: np.ndarray,
        labels: np.ndarray | None = None,
    ) -> TorchTrainer:
        return TorchTrainer(recipe, config, images, labels)

    def load_generator(self, recipe: Recipe, weights: Mapping[str, np.ndarray]
                       ) -> TorchGenerator:
        """A generator with canonical ``generator.*`` weights (WeightsFileError on a misfit)."""
        net, where = _loaded(recipe.generator, "generator", weights)
        return TorchGenerator(net, recipe.latent_dim, where)

    def load_discriminator(self, recipe: Recipe, weights: Mapping[str, np.ndarray]
                           ) -> TorchDiscriminator:
        """A discriminator with canonical ``discriminator.*`` weights."""
        net, where = _loaded(recipe.discriminator, "discriminator", weights)
        return TorchDiscriminator(net, where)


def create_backend(spec: ModelSpec | None = None) -> TorchBackend:
    """The factory named in the plugin's registration (``ganzoo_torch.backend:create_backend``);
    the backend serves every family, so it needs nothing from ``spec``."""
    return TorchBackend()


def _loaded(spec: NetSpec, part: str, weights: Mapping[str, np.ndarray]
            ) -> tuple[torch.nn.Module, torch.device]:
    """The ``part`` network built from ``spec``, its canonical weights loaded, on
    :data:`LOAD_DEVICE`."""
    where = resolve_device(LOAD_DEVICE)
    net = _build_quietly(spec)
    load_canonical_weights(net, spec, part, weights)
    return net.to(where), where
