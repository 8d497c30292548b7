"""One training run in progress: the step loop and what it leaves behind as it goes.

:class:`Run` drives a backend's :class:`~ganzoo.protocols.Trainer` from its :class:`Position`
to the configured epoch count: paced ``run_steps`` calls (:mod:`ganzoo.training.pacing`), the
live progress bar, Ctrl-C, NaN detection, the metrics log, one fixed-noise grid and one
checkpoint per epoch, and ``--eval-every`` evaluations. :func:`ganzoo.training.loop.train`
builds it; :func:`ganzoo.training.registration.register_run` registers what it ran.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from ganzoo.conditioning import GRID_COLUMNS
from ganzoo.images import save_grid
from ganzoo.protocols import TrainConfig, Trainer
from ganzoo.store.layout import SAMPLES_DIR
from ganzoo.training.checkpoint import CHECKPOINT_NAME, save_checkpoint
from ganzoo.training.config import epochs_text
from ganzoo.training.interrupt import graceful_sigint
from ganzoo.training.metrics_log import METRICS_NAME, append_record
from ganzoo.training.pacing import Pacer, Window
from ganzoo.training.progress import format_metrics, training_progress
from ganzoo.weights import write_weights


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


def steps_per_epoch(trainer: Trainer, config: TrainConfig) -> int:
    """The steps the shell runs per epoch: the trainer's, capped by ``config.max_steps``.

    The shell enforces the cap itself (it never asks a trainer for more), so a trainer that
    ignores ``max_steps`` still stops there.
    """
    spe = int(trainer.steps_per_epoch)
    return min(spe, int(config.max_steps)) if config.max_steps else spe


class Run:
    """The state of one training loop: what it ran, what it logged, where it stopped."""

    def __init__(self, trainer: Trainer, config: TrainConfig, workdir: Path, position: Position,
                 fixed_noise: np.ndarray, console: Console, main: bool = True, *,
                 batches_per_step: int = 1) -> None:
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
        # Real images a step draws: a recipe with k discriminator updates per generator update
        # draws k batches, and images seen / img/s count them all (the data a run consumed).
        self.images_per_step = config.batch_size * batches_per_step

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
                    pos.images_seen += count * self.images_per_step
                    pos.train_time_s += elapsed
                    self.last_metrics = metrics
                    epoch.add(metrics, count, elapsed)
                    window.add(metrics, count, elapsed)
                    bar.update(task, advance=count, stats=format_metrics(
                        metrics, count * self.images_per_step / elapsed))
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
        speed = window.images_per_s(self.images_per_step)
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
        from ganzoo.store.layout import BEST_NAME
        from ganzoo.training.epoch_eval import COVERAGE_WARN

        pos, meta = self.position, self.metadata
        out = self.epoch_eval.measure(self.trainer, meta["noise"], int(meta["latent_dim"]))
        record = {"kind": "eval", "epoch": pos.epoch, "global_step": pos.global_step, **out}
        append_record(self.metrics_path, record)
        better = self.best is None or out["fid"] < self.best["fid"]
        if better:
            write_weights(self.workdir / BEST_NAME, self.trainer.weights(),
                          {**meta, "epochs": pos.epoch, "steps": pos.global_step,
                           "best_fid": out["fid"],
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

