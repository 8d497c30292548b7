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
from ganzoo.noise import as_latent_batch
from ganzoo.protocols import Capabilities, LayerRow, TrainConfig

from .device_data import resolve_device
from .nets import TORCH_ONLY_BUFFERS, build_network, load_canonical_weights
from .tensors import nhwc_to_tensor, to_nhwc_numpy
from .trainer import TorchTrainer

if TYPE_CHECKING:
    from ganzoo.cards import ModelCard, Recipe
    from ganzoo.catalog import ModelSpec

EVAL_CHUNK = 1024  # images per forward when generating or scoring many at once


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


def _labels_tensor(labels: np.ndarray | None, n: int, device: torch.device) -> torch.Tensor:
    if labels is None:
        raise ValueError("a class-conditional network needs labels (one per image)")
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} images")
    return torch.from_numpy(labels).to(device)


class TorchGenerator:
    """A generator in evaluation mode (implements :class:`ganzoo.protocols.Generator`)."""

    def __init__(self, module: nn.Module, latent_dim: int, device: torch.device):
        self.module = module.eval()
        self.latent_dim = latent_dim
        self.device = device

    @property
    def classes(self) -> int | None:
        """The number of classes of a conditional generator (None: unconditional)."""
        label = getattr(self.module, "label", None)
        return None if label is None else label.classes

    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """(N, latent_dim) noise (and, conditional, (N,) labels) to (N, H, W, C) float32
        images in [-1, 1]."""
        noise = as_latent_batch(noise, self.latent_dim)
        y = None if self.classes is None else _labels_tensor(labels, len(noise), self.device)
        out = []
        with torch.no_grad():
            for start in range(0, len(noise), EVAL_CHUNK):
                z = torch.from_numpy(noise[start : start + EVAL_CHUNK]).to(self.device)
                if y is None:
                    out.append(to_nhwc_numpy(self.module(z)))
                else:
                    out.append(to_nhwc_numpy(self.module(z, y[start : start + EVAL_CHUNK])))
        return np.concatenate(out) if out else np.zeros((0, *self._image_shape()), np.float32)

    def _image_shape(self) -> tuple[int, ...]:
        with torch.no_grad():
            z = torch.zeros(1, self.latent_dim, device=self.device)
            if self.classes is not None:
                return to_nhwc_numpy(self.module(z, torch.zeros(1, dtype=torch.long,
                                                                device=self.device))).shape[1:]
            return to_nhwc_numpy(self.module(z)).shape[1:]


class TorchDiscriminator:
    """A discriminator in evaluation mode (implements ``ganzoo.protocols.Discriminator``)."""

    def __init__(self, module: nn.Module, device: torch.device):
        self.module = module.eval()
        self.device = device

    def logits(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """(N, H, W, C) images in [-1, 1] (and, conditional, (N,) labels) to (N,) float32
        logits (real > 0)."""
        conditional = getattr(self.module, "label", None) is not None
        y = _labels_tensor(labels, len(images), self.device) if conditional else None
        out = []
        with torch.no_grad():
            for start in range(0, len(images), EVAL_CHUNK):
                x = nhwc_to_tensor(images[start : start + EVAL_CHUNK], self.device)
                logits = self.module(x) if y is None else self.module(
                    x, y[start : start + EVAL_CHUNK])
                out.append(logits.reshape(-1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0,), np.float32)


class TorchBackend:
    """Implements :class:`ganzoo.protocols.Backend` for every card."""

    name = "torch"
    # Several devices through torchrun ranks (launch.py), CUDA, bf16 autocast, torch.compile.
    capabilities = Capabilities(multi_device=True, cuda=True, amp=True, compile=True)

    def __init__(self, spec: ModelSpec | None = None):
        self.spec = spec

    def launch(self, devices: int, argv: list[str]) -> int:
        """Run ``ganzoo argv`` as ``devices`` torchrun ranks; their exit code."""
        from .launch import launch

        return launch(devices, argv)

    def rank(self) -> int | None:
        """This process's torchrun rank (None outside torchrun)."""
        from .launch import rank

        return rank()

    def summary(self, recipe: Recipe) -> list[LayerRow]:
        """Both networks layer by layer: output shapes from a real forward, counts from torch."""
        return [*_layer_rows("generator", recipe.generator),
                *_layer_rows("discriminator", recipe.discriminator)]

    def create_trainer(
        self, card: ModelCard, recipe: Recipe, config: TrainConfig, images: np.ndarray,
        labels: np.ndarray | None = None,
    ) -> TorchTrainer:
        return TorchTrainer(recipe, config, images, labels)

    def load_generator(
        self, recipe: Recipe, weights: Mapping[str, np.ndarray], device: str = "cpu"
    ) -> TorchGenerator:
        """A generator with canonical ``generator.*`` weights (WeightsFileError on a misfit)."""
        net, where = _loaded(recipe.generator, "generator", weights, device)
        return TorchGenerator(net, recipe.latent_dim, where)

    def load_discriminator(
        self, recipe: Recipe, weights: Mapping[str, np.ndarray], device: str = "cpu"
    ) -> TorchDiscriminator:
        """A discriminator with canonical ``discriminator.*`` weights."""
        net, where = _loaded(recipe.discriminator, "discriminator", weights, device)
        return TorchDiscriminator(net, where)


def create_backend(spec: ModelSpec | None = None) -> TorchBackend:
    """The factory named in the plugin's registration (``ganzoo_torch.backend:create_backend``)."""
    return TorchBackend(spec)


def _loaded(spec: NetSpec, part: str, weights: Mapping[str, np.ndarray],
            device: str) -> tuple[torch.nn.Module, torch.device]:
    """The ``part`` network built from ``spec``, its canonical weights loaded, on ``device``."""
    where = resolve_device(device)
    net = _build_quietly(spec)
    load_canonical_weights(net, spec, part, weights)
    return net.to(where), where
