"""A training configuration from a model's card: the recipe's defaults, overridden by the caller.

Shared by ``ganzoo train`` and :func:`ganzoo.train`, so both start the same run from the same
arguments.
"""

from __future__ import annotations

from ganzoo.catalog import ModelSpec
from ganzoo.errors import UsageError
from ganzoo.protocols import TrainConfig

DEVICES = ("auto", "cpu", "cuda")


def build_config(spec: ModelSpec, *, recipe: str | None = None, data: str | None = None,
                 split: str = "train", epochs: int | None = None,
                 batch_size: int | None = None, seed: int = 0, device: str = "auto",
                 amp: bool = False, compile: bool = False, log_every: int = 20,
                 max_steps: int | None = None, devices: int = 1) -> TrainConfig:
    """The :class:`TrainConfig` of a run of ``spec``: ``None`` means the recipe's default.

    Raises :class:`UsageError` for an unknown recipe or device.
    """
    if device not in DEVICES:
        raise UsageError(f"--device must be auto, cpu or cuda, not '{device}'")
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
