"""The keras backend: ``create_backend(spec)`` is the factory ``ganzoo_keras.plugin`` registers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ganzoo.architecture import NetSpec
from ganzoo.cards import Recipe
from ganzoo.protocols import Capabilities, LayerRow, TrainConfig
from ganzoo_keras.builder import build_network, layer_rows
from ganzoo_keras.canonical import from_canonical
from ganzoo_keras.inference import KerasDiscriminator, KerasGenerator
from ganzoo_keras.runtime import keras, resolve_device, tf
from ganzoo_keras.trainer import KerasTrainer

if TYPE_CHECKING:
    from ganzoo.catalog import ModelSpec

# Where load_generator / load_discriminator place a network: a GPU when there is one.
LOAD_DEVICE = "auto"


class KerasBackend:
    """One family (card) on Keras 3; implements ``ganzoo.protocols.Backend``."""

    # Several devices in this one process (MirroredStrategy), GPUs, mixed_bfloat16, XLA jit.
    capabilities = Capabilities(multi_device=True, cuda=True, amp=True, compile=True)

    def launch(self, devices: int, argv: list[str]) -> None:
        """Nothing to launch: this process trains on every device under a MirroredStrategy
        (from ``TrainConfig.devices``)."""
        return None

    def rank(self) -> None:
        """One process, whatever the devices: never a rank of a launched world."""
        return None

    def summary(self, recipe: Recipe) -> list[LayerRow]:
        """Both networks' layers as Keras builds them: output shapes and parameter counts."""
        with tf.device("/CPU:0"):
            return [row for part in ("generator", "discriminator")
                    for row in layer_rows(build_network(getattr(recipe, part), part), part)]

    def create_trainer(self, recipe: Recipe, config: TrainConfig, images: np.ndarray,
                       labels: np.ndarray | None = None) -> KerasTrainer:
        return KerasTrainer(recipe, config, images, labels)

    def load_generator(self, recipe: Recipe, weights: Mapping[str, np.ndarray]
                       ) -> KerasGenerator:
        """A generator with canonical ``generator.*`` weights (WeightsFileError on a misfit)."""
        model, placed = _loaded(recipe.generator, "generator", weights)
        return KerasGenerator(model, recipe.latent_dim, placed)

    def load_discriminator(self, recipe: Recipe, weights: Mapping[str, np.ndarray]
                           ) -> KerasDiscriminator:
        """A discriminator with canonical ``discriminator.*`` weights."""
        model, placed = _loaded(recipe.discriminator, "discriminator", weights)
        return KerasDiscriminator(model, placed)


def create_backend(spec: ModelSpec | None = None) -> KerasBackend:
    """The factory named in the plugin's registration (``ganzoo_keras.backend:create_backend``);
    the backend serves every family, so it needs nothing from ``spec``."""
    return KerasBackend()


def _loaded(spec: NetSpec, part: str, weights: Mapping[str, np.ndarray]
            ) -> tuple[keras.Sequential, str]:
    """The ``part`` network built from ``spec`` on :data:`LOAD_DEVICE`, its canonical weights
    loaded."""
    placed = resolve_device(LOAD_DEVICE)
    with tf.device(placed):
        model = build_network(spec, part)
    from_canonical(model, part, weights)
    return model, placed
