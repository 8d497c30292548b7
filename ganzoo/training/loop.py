"""The one training shell every backend and family shares.

A backend supplies a :class:`ganzoo.protocols.Trainer` (networks, one step, state); this module
does everything else: data, the live progress bar, fixed-noise sample grids, the JSON-lines
metrics log, the loss plot, checkpoints, resume, Ctrl-C, NaN detection and registration.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape

from ganzoo.catalog import Catalog, ModelSpec
from ganzoo.conditioning import GRID_COLUMNS, grid_labels, training_labels
from ganzoo.errors import UsageError
from ganzoo.images import save_grid
from ganzoo.launching import check_supported, is_main
from ganzoo.noise import draw_noise
from ganzoo.protocols import TrainConfig, Trainer
from ganzoo.store import RunStore, RunSummary, VersionRecord
from ganzoo.store.layout import (
    CONFIG_NAME,
    LOSS_PLOT_NAME,
    RESULT_NAME,
    SAMPLES_DIR,
    SAMPLES_NAME,
)
from ganzoo.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from ganzoo.training.config import epoch_steps, epochs_text
from ganzoo.training.interrupt import graceful_sigint
from ganzoo.training.metrics_log import METRICS_NAME, append_record, truncate_after
from ganzoo.training.pacing import Pacer, Window
from ganzoo.training.plots import plot_losses
from ganzoo.training.progress import format_metrics, training_progress
from ganzoo.weights import WEIGHTS_NAME, write_weights
from ganzoo.weights.metadata import weights_metadata

FIXED_SAMPLES = 64
FIXED_NOISE_SEED_OFFSET = 7919  # the grid's noise never coincides with the training noise


@dataclass
class Position:
    """Where a run is: the next step to run, and what it has cost so far."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    images_seen: int = 0
    train_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _finite(metrics: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in metrics.values())


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
    state = None
    position = Position()
    parent = None
    previous = None
    if resume:
        previous = store.resolve(resume)
        if previous.model_id != spec.model_id:
            raise UsageError(f"--resume {resume} is a version of {previous.model_id}, "
                             f"not of {spec.model_id}")
        if not (previous.path / CHECKPOINT_NAME).exists():
            raise UsageError(f"{previous.ref} has no checkpoint to resume from (imported "
                             "versions hold weights only); train a new version instead")
        config = resumed_config(_saved_config(previous), config, given)
        state, raw_position = load_checkpoint(previous.path / CHECKPOINT_NAME)
        position = Position(**raw_position)
        parent = previous.ref
        if position.epoch >= config.epochs:
            raise UsageError(f"{previous.ref} already trained {epochs_text(position.epoch)}; pass "
                             f"--epochs larger than that to continue it")
    recipe = spec.card.recipe(config.recipe)
    config = replace(config, recipe=recipe.name)

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
    backend = spec.load_backend()
    check_supported(backend, config, spec.backend)  # the Python API's way in checks here too
    if labels is None:
        trainer = backend.create_trainer(spec.card, recipe, config, images)
    else:
        trainer = backend.create_trainer(spec.card, recipe, config, images, labels=labels)
    if state is not None:
        trainer.load_state(state)
    main = is_main(backend)
    # In a launched world (torchrun) only rank 0 writes, samples, checkpoints and registers;
    # the other ranks train their shard in a scratch folder that is removed at the end.
    workdir = store.new_workdir() if main else Path(tempfile.mkdtemp(prefix="ganzoo-rank-"))
    if previous is not None:
        _carry_over(previous.path, workdir, position.global_step)
    (workdir / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True))
    (workdir / SAMPLES_DIR).mkdir(exist_ok=True)
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

    run = _Run(trainer, config, workdir, position, fixed_noise, console, main)
    if eval_every and main:  # built before training: a dataset without an extractor says so
        from ganzoo.training.epoch_eval import EVAL_N, EpochEval

        run.epoch_eval = EpochEval(catalog, config.dataset, config.split, eval_every,
                                   n=eval_n or EVAL_N, seed=config.seed, data_dir=data_dir,
                                   classes=recipe.classes if recipe.conditional else None)
        run.metadata = weights_metadata(spec, config, 0)
    if recipe.conditional:  # the fixed grid: one row per class
        run.fixed_labels = grid_labels(recipe.classes or 0, GRID_COLUMNS)
        run.fixed_noise = draw_noise(recipe.noise, len(run.fixed_labels), recipe.latent_dim,
                                     config.seed + FIXED_NOISE_SEED_OFFSET)
    if tensorboard is not None and main:
        from ganzoo.training.tensorboard import TensorBoardLog

        run.tensorboard = TensorBoardLog(Path(tensorboard))
    if track and main:
        from ganzoo.training.mlflow_sink import attach_tracker

        run.tensorboard = attach_tracker(run.tensorboard, track, catalog, store, config)
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
    record = _register(store, spec, config, run, status, message, parent, dataset.name)
    if hasattr(run.tensorboard, "finish"):  # a tracker logs the registered version's files
        run.tensorboard.finish(record)
    return record


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


def steps_per_epoch(trainer: Trainer, config: TrainConfig) -> int:
    """The steps the shell runs per epoch: the trainer's, capped by ``config.max_steps``.

    The shell enforces the cap itself (it never asks a trainer for more), so a trainer that
    ignores ``max_steps`` still stops there.
    """
    spe = int(trainer.steps_per_epoch)
    return min(spe, int(config.max_steps)) if config.max_steps else spe


class _Run:
    """The state of one training loop: what it ran, what it logged, where it stopped."""

    def __init__(self, trainer: Trainer, config: TrainConfig, workdir: Path, position: Position,
                 fixed_noise: np.ndarray, console: Console, main: bool = True) -> None:
        self.trainer = trainer
        self.config = config
        self.workdir = workdir
        self.position = position
        self.fixed_noise = fixed_noise
        self.fixed_labels: np.ndarray | None = None  # a conditional model's grid rows
        self.console = console
        self.last_metrics: dict[str, float] = {}
        self.checkpoint = workdir / CHECKPOINT_NAME
        self.metrics_path = workdir / METRICS_NAME
        self.main = main
        self.initial_state = None if self.checkpoint.exists() or not main else trainer.state()
        self.tensorboard: Any = None
        self.epoch_eval: Any = None  # --eval-every: ganzoo.training.epoch_eval.EpochEval
        self.metadata: dict[str, Any] = {}  # the weights metadata best.safetensors carries
        self.best: dict[str, Any] | None = None  # the best evaluated epoch so far

    @property
    def images_per_s(self) -> float:
        p = self.position
        return p.images_seen / p.train_time_s if p.train_time_s > 0 else 0.0

    def save_checkpoint(self) -> None:
        if self.main:
            save_checkpoint(self.checkpoint, self.trainer.state(), self.position.to_dict())

    def stop_requested(self, local: bool) -> bool:
        """Whether to stop now; distributed trainers make every rank agree (any rank stops all)."""
        agree = getattr(self.trainer, "any_rank", None)
        return bool(agree(local)) if agree is not None else local

    def loop(self, show_progress: bool) -> tuple[str, str]:
        """Run to the configured epoch count; returns (status, message)."""
        config, pos, trainer = self.config, self.position, self.trainer
        spe = steps_per_epoch(trainer, config)
        total = config.epochs * spe
        hint = "Stopping after the current steps and saving a checkpoint (Ctrl-C again to abort)."
        pacer = Pacer(config.log_every, self.stop_requested)
        # Under torchrun every rank gets the Ctrl-C; rank 0 alone says so.
        with graceful_sigint(hint if self.main else "") as stop, \
                training_progress(self.console, show_progress) as bar:
            task = bar.add_task(f"epoch {pos.epoch + 1}/{config.epochs}", total=total,
                                completed=pos.epoch * spe + pos.step, stats="")
            while pos.epoch < config.epochs:
                epoch, window = Window(), Window()
                while pos.step < spe:
                    left = min(config.log_every - window.steps, spe - pos.step)
                    count = pacer.count(left)
                    start = time.perf_counter()
                    metrics = trainer.run_steps(pos.epoch, pos.step, count)
                    elapsed = time.perf_counter() - start
                    if not _finite(metrics):
                        return "diverged", self._diverged(metrics)
                    pacer.observe(count, elapsed)
                    pos.step += count
                    pos.global_step += count
                    pos.images_seen += count * config.batch_size
                    pos.train_time_s += elapsed
                    self.last_metrics = metrics
                    epoch.add(metrics, count, elapsed)
                    window.add(metrics, count, elapsed)
                    bar.update(task, advance=count, stats=format_metrics(
                        metrics, count * config.batch_size / elapsed))
                    stopping = self.stop_requested(bool(stop))
                    if stopping or window.steps == config.log_every or pos.step == spe:
                        self._log_window(window)
                        window = Window()
                    if stopping:
                        self.save_checkpoint()
                        return "interrupted", (
                            f"Interrupted at epoch {pos.epoch + 1}, step {pos.step}/{spe}; "
                            "checkpoint saved.")
                pos.epoch += 1
                pos.step = 0
                self._end_epoch(epoch.means())
                bar.update(task, description=f"epoch {min(pos.epoch + 1, config.epochs)}/"
                                             f"{config.epochs}")
        return "complete", f"Trained {epochs_text(config.epochs)}."

    def _log_window(self, window: Window) -> None:
        """One ``step`` record (and TensorBoard scalars) for the steps of ``window``."""
        pos, means = self.position, window.means()
        speed = window.images_per_s(self.config.batch_size)
        self.log({"kind": "step", "epoch": pos.epoch + 1, "step": pos.step,
                  "global_step": pos.global_step, "images_seen": pos.images_seen,
                  **means, "images_per_s": speed})
        if self.tensorboard is not None:
            self.tensorboard.scalars(pos.global_step, means | {"images_per_s": speed})

    def fixed_grid(self) -> tuple[np.ndarray, int | None]:
        """The fixed samples and their grid's columns (a conditional model: one row per
        class, ``GRID_COLUMNS`` wide; else square)."""
        if self.fixed_labels is None:
            return self.trainer.sample(self.fixed_noise), None
        return self.trainer.sample(self.fixed_noise, self.fixed_labels), GRID_COLUMNS

    def log(self, record: dict[str, Any]) -> None:
        if self.main:
            append_record(self.metrics_path, record)

    def _end_epoch(self, means: dict[str, float]) -> None:
        pos = self.position
        if not self.main:
            return
        samples, ncols = self.fixed_grid()
        save_grid(samples, self.workdir / SAMPLES_DIR / f"epoch_{pos.epoch:04d}.png", ncols)
        if self.tensorboard is not None:
            self.tensorboard.image(pos.global_step, "samples", samples)
        append_record(self.metrics_path, {
            "kind": "epoch", "epoch": pos.epoch, "global_step": pos.global_step,
            "images_seen": pos.images_seen, "train_time_s": round(pos.train_time_s, 3),
            "images_per_s": self.images_per_s, **means,
        })
        self.save_checkpoint()
        self.initial_state = None
        self.console.print(f"epoch {pos.epoch}/{self.config.epochs}  {format_metrics(means)}  "
                           f"{self.images_per_s:,.0f} img/s", highlight=False)
        if self.epoch_eval is not None and self.epoch_eval.due(pos.epoch, self.config.epochs):
            self._evaluate_epoch()

    def _evaluate_epoch(self) -> None:
        """--eval-every: measure this epoch; keep its weights as best.safetensors if best."""
        from ganzoo.training.epoch_eval import BEST_NAME, COVERAGE_WARN

        pos, meta = self.position, self.metadata
        out = self.epoch_eval.measure(self.trainer, meta["noise"], int(meta["latent_dim"]))
        record = {"kind": "eval", "epoch": pos.epoch, "global_step": pos.global_step, **out}
        append_record(self.metrics_path, record)
        better = self.best is None or out["fid"] < self.best["fid"]
        if better:
            write_weights(self.workdir / BEST_NAME, self.trainer.weights(),
                          {**meta, "epochs": pos.epoch, "best_fid": out["fid"],
                           "best_n": out["n"]})
            self.best = {"epoch": pos.epoch, "fid": out["fid"], "n": out["n"],
                         "class_coverage": out["class_coverage"], "file": BEST_NAME}
        self.console.print(
            f"  eval epoch {pos.epoch}: FID {out['fid']:.2f} (n={out['n']:,}), class coverage "
            f"{out['class_coverage']:.0%}, {out['eval_s']:.1f} s"
            + ("  [green]best so far[/]" if better else
               f"  (best: epoch {self.best['epoch']}, FID {self.best['fid']:.2f})"),
            highlight=False)
        if out["class_coverage"] < COVERAGE_WARN:
            self.console.print(
                f"[yellow]Warning: class coverage collapsed to {out['class_coverage']:.0%} at "
                f"epoch {pos.epoch} (below {COVERAGE_WARN:.0%}): the generator is dropping "
                f"classes (mode collapse); best.safetensors keeps epoch "
                f"{self.best['epoch']}[/]", highlight=False)

    def _diverged(self, metrics: dict[str, float]) -> str:
        pos = self.position
        bad = ", ".join(f"{k}={v}" for k, v in metrics.items() if not math.isfinite(v))
        if self.initial_state is not None:
            # No epoch finished: the last good state is the one training started from.
            save_checkpoint(self.checkpoint, self.initial_state, Position().to_dict())
            kept = "the initial weights"
        else:
            kept = f"the checkpoint of epoch {pos.epoch}"
        return (f"Training diverged at epoch {pos.epoch + 1}, step {pos.step + 1}: {bad}. Kept "
                f"{kept}. Try a lower learning rate or a different --seed.")


def _carry_over(source: Path, workdir: Path, global_step: int) -> None:
    """Start a resumed run's folder with its parent's log and samples, rewound to the checkpoint."""
    for name in (METRICS_NAME,):
        if (source / name).exists():
            shutil.copy2(source / name, workdir / name)
            truncate_after(workdir / name, global_step)
    if (source / SAMPLES_DIR).exists():
        shutil.copytree(source / SAMPLES_DIR, workdir / SAMPLES_DIR, dirs_exist_ok=True)
    if (source / CHECKPOINT_NAME).exists():
        shutil.copy2(source / CHECKPOINT_NAME, workdir / CHECKPOINT_NAME)


def _register(store: RunStore, spec: ModelSpec, config: TrainConfig, run: _Run, status: str,
              message: str, parent: str | None, dataset: str) -> VersionRecord:
    workdir, pos = run.workdir, run.position
    if status == "complete" or status == "interrupted":
        arrays = run.trainer.weights()
        epochs_done = pos.epoch
    else:
        state, saved = load_checkpoint(run.checkpoint)
        arrays = {k: v for k, v in state.items()
                  if k.startswith(("generator.", "discriminator."))}
        epochs_done = saved["epoch"]
    write_weights(workdir / WEIGHTS_NAME, arrays, weights_metadata(spec, config, epochs_done))
    plot_losses([(spec.model_id, workdir / METRICS_NAME)], workdir / LOSS_PLOT_NAME,
                title=f"{spec.model_id} ({config.recipe}) on {config.dataset}")
    if status != "diverged":
        samples, ncols = run.fixed_grid()
        save_grid(samples, workdir / SAMPLES_NAME, ncols)
    (workdir / RESULT_NAME).write_text(json.dumps({
        "status": status, "message": message, **pos.to_dict(),
        "images_per_s": run.images_per_s, "final_metrics": run.last_metrics,
        **({"best": run.best} if run.best is not None else {}),
    }, indent=2, sort_keys=True))
    record = store.register(workdir, RunSummary(
        model_id=spec.model_id, status=status, family=spec.family, backend=spec.backend,
        recipe=config.recipe, dataset=dataset, split=config.split, epochs=epochs_done,
        steps=pos.global_step, seed=config.seed, wall_time_s=pos.train_time_s,
        images_per_s=run.images_per_s, final_metrics=run.last_metrics, parent=parent))
    style = {"complete": "green", "interrupted": "yellow", "diverged": "red"}[status]
    run.console.print(f"[{style}]{escape(message)}[/] Registered [bold]{record.ref}[/] "
                      f"({status}) in {escape(str(record.path))}", highlight=False)
    return record
