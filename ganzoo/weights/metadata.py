"""The metadata block a trained version's weights file carries (docs/weights.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganzoo import __version__
from ganzoo.weights.format import PARTS

if TYPE_CHECKING:
    from ganzoo.catalog import ModelSpec
    from ganzoo.protocols import TrainConfig


def weights_metadata(spec: ModelSpec, config: TrainConfig, epochs_done: int,
                     steps: int | None = None) -> dict[str, Any]:
    """The metadata of ``spec``'s weights after ``epochs_done`` epochs (``steps`` generator
    updates, when known) of ``config``: what a reader needs to sample (noise, shape, range,
    layout) and where the weights came from, with the budget an importer can report."""
    recipe = spec.card.recipe(config.recipe)
    return {
        "model_id": spec.model_id,
        "family": spec.family,
        "recipe": recipe.name,
        "backend": spec.backend,
        "latent_dim": recipe.latent_dim,
        "noise": recipe.noise,
        "image_shape": list(recipe.image_shape),
        "value_range": [-1.0, 1.0],
        "layout": "NHWC",
        "dataset": config.dataset,
        "split": config.split,
        "epochs": epochs_done,
        **({"steps": int(steps)} if steps is not None else {}),
        **({"max_steps": int(config.max_steps)} if config.max_steps else {}),
        "batch_size": config.batch_size,
        "seed": config.seed,
        "ganzoo_version": __version__,
        "card_sha256": spec.card.digest,
        "parts": list(PARTS),
        **({"conditional": True, "classes": int(recipe.classes or 0)}
           if recipe.conditional else {}),
    }
