"""One training step of each backend's real trainer, with chosen weights, batch and noise.

The trainers are built the way the product builds them (the backend's ``create_trainer`` from a
card's recipe); the test then loads canonical weights, replaces the trainer's noise source by a
queue of given latent batches (drawn in the order the step asks for them) and calls the step
function the recipe names on a given batch of real images.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ganzoo.cards import Recipe
from ganzoo.protocols import METRIC_KEYS, TrainConfig


def _config(recipe: Recipe, backend: str, batch: int, **extra: object) -> TrainConfig:
    return TrainConfig(model_id=f"{recipe.name}-{backend}", recipe=recipe.name,
                       dataset="random", batch_size=batch, seed=0, device="cpu",
                       max_steps=1, extra=dict(extra))


def _placeholder_images(recipe: Recipe, batch: int) -> np.ndarray:
    return np.zeros((batch, *recipe.image_shape), np.uint8)


class _Queue:
    """The trainer's noise source: hands out the given batches in order, checking sizes."""

    def __init__(self, batches: Iterable[np.ndarray], convert):
        self.batches = [np.asarray(b, np.float32) for b in batches]
        self.convert = convert
        self.drawn = 0

    def __call__(self, n: int):
        batch = self.batches[self.drawn]
        assert len(batch) == n, f"the step asked for {n} latent rows, the test has {len(batch)}"
        self.drawn += 1
        return self.convert(batch)


def torch_trainer(recipe: Recipe, weights: dict[str, np.ndarray], batch: int,
                  load: bool = True):
    """The torch trainer for ``recipe`` (one CPU thread) with ``weights`` loaded (``load``
    False: the trainer's own initialisation)."""
    from ganzoo_torch.backend import create_backend
    from ganzoo_torch.canonical import load_canonical_weights

    trainer = create_backend(None).create_trainer(
        recipe, _config(recipe, "torch", batch, torch_threads=1),
        _placeholder_images(recipe, batch * recipe.d_steps_per_g))
    for part in ("generator", "discriminator") if load else ():
        load_canonical_weights(getattr(trainer, part), getattr(recipe, part), part, weights)
    return trainer


def torch_step(trainer, real: np.ndarray, noise: list[np.ndarray]) -> dict[str, float]:
    """One step of the recipe's kind on NHWC ``real``; every latent batch must be used."""
    import torch

    queue = _Queue(noise, lambda b: torch.from_numpy(b).to(trainer.device))
    trainer.steps.noise = queue
    images = torch.from_numpy(np.ascontiguousarray(real, np.float32))
    if images.dim() == 4:
        images = images.permute(0, 3, 1, 2).contiguous()
    with trainer.rng.active():
        metrics = trainer.steps.by_name(trainer.recipe.step)(images)
    assert queue.drawn == len(noise), f"the step drew {queue.drawn} latent batches"
    return dict(zip(METRIC_KEYS, (float(m) for m in metrics), strict=True))


def keras_trainer(recipe: Recipe, weights: dict[str, np.ndarray], batch: int,
                  load: bool = True):
    """The Keras trainer for ``recipe`` with ``weights`` loaded (``load`` False: its own)."""
    from ganzoo_keras.backend import create_backend
    from ganzoo_keras.canonical import from_canonical

    trainer = create_backend(None).create_trainer(
        recipe, _config(recipe, "keras", batch),
        _placeholder_images(recipe, batch * recipe.d_steps_per_g))
    for part in ("generator", "discriminator") if load else ():
        from_canonical(getattr(trainer, part), part, weights)
    return trainer


def keras_step(trainer, real: np.ndarray, noise: list[np.ndarray]) -> dict[str, float]:
    """One step (run eagerly) of the recipe's kind on NHWC ``real``."""
    from ganzoo_keras.runtime import tf

    queue = _Queue(noise, tf.constant)
    trainer.steps.noise = queue
    metrics = trainer.steps.by_name(trainer.recipe.step)(tf.constant(real, tf.float32))
    assert queue.drawn == len(noise), f"the step drew {queue.drawn} latent batches"
    return dict(zip(METRIC_KEYS, (float(m) for m in np.asarray(metrics)), strict=True))


def noise_draws(recipe: Recipe) -> int:
    """How many latent batches one step of ``recipe.step`` draws (simultaneous: one forward;
    otherwise one per discriminator update, ``d_steps_per_g`` of them, and one for G)."""
    return 1 if recipe.step == "simultaneous" else recipe.d_steps_per_g + 1


def fix_penalty_draws(backend: str, trainer, recipe: Recipe,
                      draws: Iterable[np.ndarray]) -> None:
    """Make the trainer's penalty (if the recipe has one) take its interpolation weights from
    ``draws`` in order, instead of the backend's own seeded generator."""
    if recipe.penalty is None:
        return
    draws = iter(draws)
    if backend == "torch":
        import torch

        from ganzoo_torch.losses import penalty_for
        from ganzoo_torch.steps import penalty_term

        trainer.steps.penalty = penalty_term(
            penalty_for(recipe), trainer.discriminator, recipe.penalty.weight,
            lambda n: torch.from_numpy(next(draws)[:n]))
    else:
        from ganzoo_keras.losses import penalty_for
        from ganzoo_keras.runtime import tf
        from ganzoo_keras.steps import penalty_term

        trainer.steps.penalty = penalty_term(
            penalty_for(recipe), trainer.discriminator, recipe.penalty.weight,
            lambda n: tf.constant(next(draws)[:n]))
