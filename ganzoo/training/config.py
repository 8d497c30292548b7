"""A training configuration from a model's card: the recipe's defaults, overridden by the caller.

The one place a :class:`TrainConfig` is made from a recipe: ``ganzoo train``,
:func:`ganzoo.train`, ``compare --train-missing`` and ``ganzoo import`` (the config.json of an
imported version) all call :func:`build_config`, so the same arguments make the same run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo.devices import parse_device
from ganzoo.errors import UsageError
from ganzoo.protocols import TrainConfig

if TYPE_CHECKING:
    from ganzoo.catalog import ModelSpec



def build_config(spec: ModelSpec, *, recipe: str | None = None, data: str | None = None,
                 split: str = "train", epochs: int | None = None,
                 batch_size: int | None = None, seed: int = 0, device: str = "auto",
                 amp: bool = False, compile: bool = False, log_every: int = 20,
                 max_steps: int | None = None, devices: int = 1) -> TrainConfig:
    """The :class:`TrainConfig` of a run of ``spec``: ``None`` means the recipe's default.

    Raises :class:`UsageError` for an unknown recipe or device, or a batch size below 1.
    """
    device = str(parse_device(device))
    if batch_size is not None:
        check_batch_size(batch_size)
    chosen = spec.card.recipe(recipe)
    return TrainConfig(
        model_id=spec.model_id,
        recipe=chosen.name,
        dataset=data or chosen.dataset,
        split=split,
        epochs=epochs or chosen.epochs,
        batch_size=batch_size or chosen.batch_size,
        seed=seed,
        device=device,
        amp=amp,
        compile=compile,
        log_every=log_every,
        max_steps=max_steps,
        devices=devices,
    )


def epochs_text(n: int) -> str:
    """``1 epoch``, ``3 epochs``: a run's length in words."""
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def check_batch_size(batch_size: int, replicas: int = 1) -> None:
    """Refuse (:class:`UsageError`) a batch size below 1 or one that ``replicas`` devices
    cannot share evenly (the batch is global: each device takes an equal slice)."""
    if int(batch_size) < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
    if replicas > 1 and batch_size % replicas:
        raise UsageError(f"--batch-size {batch_size} does not divide evenly over {replicas} "
                         f"devices; use a multiple of {replicas}")


def epoch_steps(images: int, batch_size: int, batches_per_step: int = 1, *,
                replicas: int = 1, max_steps: int | None = None,
                source: str | None = None) -> int:
    """Full training steps in one pass over ``images``.

    A step takes ``batches_per_step`` batches of ``batch_size`` (split over ``replicas``
    devices); the last partial step is dropped and ``max_steps`` caps the count; ``source``
    (e.g. ``fashion/train``) names the images in the refusal. Every backend
    and the training shell call this, so a batch size is refused once, with one error type
    (:class:`UsageError`) and one message.
    """
    check_batch_size(batch_size, replicas)
    steps = int(images) // (int(batch_size) * int(batches_per_step))
    if steps < 1:
        largest = int(images) // int(batches_per_step)
        where = f"{source} has " if source else ""
        raise UsageError(f"{where}{images:,} images, which make no full training step of "
                         f"{batches_per_step} batch(es) of {batch_size}; lower --batch-size "
                         f"(at most {largest})")
    return min(steps, int(max_steps)) if max_steps else steps
