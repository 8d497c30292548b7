"""Resuming a registered version: which config wins, where training restarts, what carries over.

A resumed run continues exactly from its parent's checkpoint and registers a new version whose
parent is the resumed one; its config is the saved one, except for what may change between
sessions (:func:`resumed_config`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ganzoo.errors import UsageError
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore, VersionRecord
from ganzoo.store.layout import BEST_NAME, CONFIG_NAME, RESULT_NAME, SAMPLES_DIR
from ganzoo.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from ganzoo.training.config import epochs_text
from ganzoo.training.metrics_log import METRICS_NAME, truncate_after
from ganzoo.training.run import Position


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run starts: its config, the trainer state and position of the parent's
    checkpoint, the parent version, and the parent's best evaluated epoch (``--eval-every``)
    when it is within the checkpoint (None otherwise)."""

    config: TrainConfig
    state: dict[str, Any]
    position: Position
    previous: VersionRecord
    best: dict[str, Any] | None = None

    @property
    def parent(self) -> str:
        return self.previous.ref


def resume_point(store: RunStore, resume: str, model_id: str, asked: TrainConfig,
                 given: Collection[str] | None) -> ResumePoint:
    """The point ``resume`` (a version reference of ``model_id``) continues from.

    Refused with a :class:`UsageError`: a version of another model, one without a checkpoint
    (imported), a run-defining option that differs from the saved one, or ``--epochs`` not
    beyond what the version already trained.
    """
    previous = store.resolve(resume)
    if previous.model_id != model_id:
        raise UsageError(f"--resume {resume} is a version of {previous.model_id}, "
                         f"not of {model_id}")
    if not (previous.path / CHECKPOINT_NAME).exists():
        raise UsageError(f"{previous.ref} has no checkpoint to resume from (imported "
                         "versions hold weights only); train a new version instead")
    config = resumed_config(_saved_config(previous), asked, given)
    state, raw_position = load_checkpoint(previous.path / CHECKPOINT_NAME)
    position = Position(**raw_position)
    if position.epoch >= config.epochs:
        raise UsageError(f"{previous.ref} already trained {epochs_text(position.epoch)}; pass "
                         f"--epochs larger than that to continue it")
    return ResumePoint(config, state, position, previous,
                       carried_best(previous.path, position.epoch))


# What defines a run: a resumed run keeps the saved values, and a value given again on the
# command line must equal the saved one (TrainConfig field -> the option that sets it).
RUN_DEFINING = {"recipe": "--recipe", "dataset": "--data", "split": "--split",
                "batch_size": "--batch-size", "seed": "--seed", "amp": "--amp",
                "devices": "--devices"}


def resumed_config(saved: TrainConfig, asked: TrainConfig,
                   given: Collection[str] | None = None) -> TrainConfig:
    """The config of a run resumed from ``saved`` when the user asked for ``asked``.

    The rule: the saved run's config wins for everything that defines the run
    (:data:`RUN_DEFINING`); a field in ``given`` (written on the command line) whose value
    differs from the saved one is refused with a :class:`UsageError` naming the option and the
    saved value. ``epochs`` (the new total) is always ``asked``'s; ``max_steps`` (a new cap per
    epoch) is ``asked``'s when given, else the saved one; so is ``compile`` (torch.compile or
    XLA: the same run, compiled or not); ``device`` and ``log_every`` (how this session runs)
    are ``asked``'s. ``given=None`` (a caller without a command line) refuses nothing and takes
    ``asked.max_steps`` when set.
    """
    for field, option in RUN_DEFINING.items():
        ours, theirs = getattr(saved, field), getattr(asked, field)
        if given is not None and field in given and ours != theirs:
            raise UsageError(f"{option} {_option_value(theirs)} differs from the resumed run's "
                             f"{_option_value(ours)}; a resumed run keeps its saved settings: "
                             f"drop {option} or train a new version")
    if given is None:
        max_steps = asked.max_steps if asked.max_steps is not None else saved.max_steps
        compile_ = saved.compile
    else:
        max_steps = asked.max_steps if "max_steps" in given else saved.max_steps
        compile_ = asked.compile if "compile" in given else saved.compile
    return replace(saved, epochs=asked.epochs, max_steps=max_steps, device=asked.device,
                   log_every=asked.log_every, compile=compile_)


def check_resume(store: RunStore, resume: str, asked: TrainConfig,
                 given: Collection[str] | None) -> TrainConfig:
    """:func:`resumed_config` for the version ``resume`` names (refusals raise UsageError)."""
    return resumed_config(_saved_config(store.resolve(resume)), asked, given)


def _saved_config(record: VersionRecord) -> TrainConfig:
    return TrainConfig.from_dict(json.loads((record.path / CONFIG_NAME).read_text()))


def _option_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def carried_best(source: Path, epoch: int) -> dict[str, Any] | None:
    """The parent's best evaluated epoch (``--eval-every``), when it is within the ``epoch``
    epochs the resumed run continues from and its weights are there; else None."""
    try:
        best = json.loads((source / RESULT_NAME).read_text()).get("best")
    except (OSError, ValueError):
        return None
    if not best or best.get("epoch", epoch + 1) > epoch or not (source / BEST_NAME).exists():
        return None
    return best


def carry_over(source: Path, workdir: Path, global_step: int, best: bool = False) -> None:
    """Start a resumed run's folder with its parent's log and samples, rewound to the
    checkpoint (at ``global_step``), and with ``best`` the parent's best evaluated epoch's
    weights (a later ``--eval-every`` compares against them; see :func:`carried_best`)."""
    for name in (METRICS_NAME,):
        if (source / name).exists():
            shutil.copy2(source / name, workdir / name)
            truncate_after(workdir / name, global_step)
    if (source / SAMPLES_DIR).exists():
        shutil.copytree(source / SAMPLES_DIR, workdir / SAMPLES_DIR, dirs_exist_ok=True)
    if (source / CHECKPOINT_NAME).exists():
        shutil.copy2(source / CHECKPOINT_NAME, workdir / CHECKPOINT_NAME)
    if best:
        shutil.copy2(source / BEST_NAME, workdir / BEST_NAME)

