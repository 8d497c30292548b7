"""Training a model: :func:`train`, the one entry every backend and family shares.

A backend supplies a :class:`ganzoo.protocols.Trainer` (networks, one step, state); the shell
does everything else, in these modules: the resume rule and the parent's checkpoint
(:mod:`~ganzoo.training.resume`), the step loop with its progress, logs, grids, checkpoints,
Ctrl-C and NaN detection (:mod:`~ganzoo.training.run`), and registration
(:mod:`~ganzoo.training.registration`). This module checks the data against the recipe, builds
the trainer and the work folder, attaches the sinks, and runs them in order.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from ganzoo.catalog import Catalog, ModelSpec
from ganzoo.conditioning import GRID_COLUMNS, grid_labels, training_labels
from ganzoo.errors import UsageError
from ganzoo.launching import check_supported, is_main
from ganzoo.noise import draw_noise
from ganzoo.protocols import TrainConfig, Trainer
from ganzoo.recipes import Recipe
from ganzoo.store import RunStore, VersionRecord
from ganzoo.store.layout import CONFIG_NAME, SAMPLES_DIR
from ganzoo.training.config import epoch_steps, epochs_text
from ganzoo.training.registration import register_run
from ganzoo.training.resume import (
    RUN_DEFINING,
    ResumePoint,
    carry_over,
    check_resume,
    resume_point,
    resumed_config,
)
from ganzoo.training.run import Position, Run, steps_per_epoch
from ganzoo.weights.metadata import weights_metadata

# Importable from here as before: the resume rule, the loop's pieces, the weights metadata.
__all__ = ["FIXED_NOISE_SEED_OFFSET", "FIXED_SAMPLES", "RUN_DEFINING", "Position",
           "check_resume", "resumed_config", "steps_per_epoch", "train", "weights_metadata"]

FIXED_SAMPLES = 64
FIXED_NOISE_SEED_OFFSET = 7919  # the grid's noise never coincides with the training noise


def train(
    catalog: Catalog,
    config: TrainConfig,
    store: RunStore,
    *,
    data_dir: str | Path | None = None,
    resume: str | None = None,
    console: Console | None = None,
    show_progress: bool = True,
    tensorboard: Path | None = None,
    given: Collection[str] | None = None,
    track: str | None = None,
    eval_every: int | None = None,
    eval_n: int | None = None,
) -> VersionRecord | None:
    """Train ``config.model_id`` and register the result as a new version.

    With ``resume`` (a version reference of the same model), training continues exactly from
    that version's checkpoint up to ``config.epochs`` and registers a new version whose parent
    is the resumed one; the saved run's config wins (see :func:`resumed_config`, which
    ``given``, the fields the user wrote on the command line, feeds). Under torchrun, ranks
    other than 0 return None. ``track="mlflow"`` also logs the run to MLflow
    (:mod:`ganzoo.training.mlflow_sink`), a sink beside TensorBoard's. ``eval_every=N``
    measures a cheap FID every N epochs and keeps the best epoch's weights
    (:mod:`ganzoo.training.epoch_eval`).
    """
    console = console or Console()
    spec = catalog.model(config.model_id)
    point = None
    if resume:
        point = resume_point(store, resume, spec.model_id, config, given)
        config = point.config
    position = point.position if point is not None else Position()
    parent = point.parent if point is not None else None
    recipe = spec.card.recipe(config.recipe)
    config = replace(config, recipe=recipe.name)

    dataset, images, labels = _training_data(catalog, spec, recipe, config, data_dir)
    trainer, main = _create_trainer(spec, recipe, config, images, labels, point)
    workdir = _open_workdir(store, config, main, point)
    fixed_noise = draw_noise(recipe.noise, FIXED_SAMPLES, recipe.latent_dim,
                             config.seed + FIXED_NOISE_SEED_OFFSET)
    if not main:
        console = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
        show_progress = False
    console.print(
        f"Training [bold]{spec.model_id}[/] ({recipe.name}) on {dataset.name}/{dataset.split}: "
        f"{len(images):,} images from {getattr(dataset, 'source', '?')}, "
        f"batch {config.batch_size}, {epochs_text(config.epochs)}"
        + (f", resuming {parent} at epoch {position.epoch + 1} step {position.step}"
           if parent else ""), highlight=False)

    run = Run(trainer, config, workdir, position, fixed_noise, console, main,
              batches_per_step=recipe.d_steps_per_g)
    if point is not None:  # --eval-every's best so far: the parent's, where it was carried
        run.best = point.best
    _attach(run, catalog, store, spec, recipe, config, data_dir=data_dir,
            tensorboard=tensorboard, track=track, eval_every=eval_every, eval_n=eval_n)
    try:
        status, message = run.loop(show_progress)
    finally:
        if run.tensorboard is not None:
            run.tensorboard.close()
    # Optional: a distributed trainer leaves its process group here, once every rank is done
    # (not after an exception, when the other ranks may never arrive).
    close = getattr(trainer, "close", None)
    if close is not None:
        close()
    if not main:
        shutil.rmtree(workdir, ignore_errors=True)
        return None
    record = register_run(store, spec, config, run, status, message, parent, dataset.name)
    if hasattr(run.tensorboard, "finish"):  # a tracker logs the registered version's files
        run.tensorboard.finish(record)
    return record


def _training_data(catalog: Catalog, spec: ModelSpec, recipe: Recipe, config: TrainConfig,
                   data_dir: str | Path | None) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """The dataset, its images (N, H, W, C) and labels (a conditional recipe), checked against
    the recipe before any backend loads: image shape, batch size, labels."""
    from ganzoo.data import load_dataset

    dataset = load_dataset(catalog, config.dataset, config.split, data_dir=data_dir)
    images = dataset.images if dataset.images.ndim == 4 else dataset.images[..., None]
    if tuple(images.shape[1:]) != tuple(recipe.image_shape):
        raise UsageError(f"{config.dataset} images are {images.shape[1:]}, but {spec.model_id} "
                         f"({recipe.name}) makes {recipe.image_shape}")
    # Refused here, before any backend loads, exactly as every backend would refuse it.
    epoch_steps(len(images), config.batch_size, recipe.d_steps_per_g,
                replicas=config.devices, source=f"{config.dataset}/{config.split}")
    # A conditional recipe trains on (image, label) pairs: refused here, before any training,
    # when the dataset has no labels (or labels outside the card's classes).
    labels = training_labels(recipe, getattr(dataset, "labels", None), len(images),
                             f"{config.dataset}/{config.split}")
    return dataset, images, labels


def _create_trainer(spec: ModelSpec, recipe: Recipe, config: TrainConfig, images: np.ndarray,
                    labels: np.ndarray | None,
                    point: ResumePoint | None) -> tuple[Trainer, bool]:
    """The backend's trainer (with the resumed state) and whether this process is rank 0."""
    backend = spec.load_backend()
    check_supported(backend, config, spec.backend)  # the Python API's way in checks here too
    if labels is None:
        trainer = backend.create_trainer(recipe, config, images)
    else:
        trainer = backend.create_trainer(recipe, config, images, labels=labels)
    if point is not None:
        trainer.load_state(point.state)
    return trainer, is_main(backend)


def _open_workdir(store: RunStore, config: TrainConfig, main: bool,
                  point: ResumePoint | None) -> Path:
    """The run's folder, holding its config (and a resumed run's carried-over files).

    In a launched world (torchrun) only rank 0 writes, samples, checkpoints and registers; the
    other ranks train their shard in a scratch folder that is removed at the end.
    """
    workdir = store.new_workdir() if main else Path(tempfile.mkdtemp(prefix="ganzoo-rank-"))
    if point is not None:
        carry_over(point.previous.path, workdir, point.position.global_step,
                   best=point.best is not None)
    (workdir / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True))
    (workdir / SAMPLES_DIR).mkdir(exist_ok=True)
    return workdir


def _attach(run: Run, catalog: Catalog, store: RunStore, spec: ModelSpec, recipe: Recipe,
            config: TrainConfig, *, data_dir: str | Path | None, tensorboard: Path | None,
            track: str | None, eval_every: int | None, eval_n: int | None) -> None:
    """What the run carries besides the loop: ``--eval-every``, a conditional model's grid
    rows, TensorBoard and a tracker (rank 0 only)."""
    if eval_every and run.main:  # built before training: a dataset without an extractor says so
        from ganzoo.training.epoch_eval import EVAL_N, EpochEval

        run.epoch_eval = EpochEval(catalog, config.dataset, config.split, eval_every,
                                   n=eval_n or EVAL_N, seed=config.seed, data_dir=data_dir,
                                   classes=recipe.classes if recipe.conditional else None)
        run.metadata = weights_metadata(spec, config, 0)
    if recipe.conditional:  # the fixed grid: one row per class
        run.fixed_labels = grid_labels(recipe.classes or 0, GRID_COLUMNS)
        run.fixed_noise = draw_noise(recipe.noise, len(run.fixed_labels), recipe.latent_dim,
                                     config.seed + FIXED_NOISE_SEED_OFFSET)
    if tensorboard is not None and run.main:
        from ganzoo.training.tensorboard import TensorBoardLog

        run.tensorboard = TensorBoardLog(Path(tensorboard))
    if track and run.main:
        from ganzoo.training.mlflow_sink import attach_tracker

        run.tensorboard = attach_tracker(run.tensorboard, track, catalog, store, config)
