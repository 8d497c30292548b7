"""Registering what a training run left: weights, loss plot, final grid, result, version."""

from __future__ import annotations

import json

from rich.markup import escape

from ganzoo.catalog import ModelSpec
from ganzoo.images import save_grid
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore, RunSummary, VersionRecord
from ganzoo.store.layout import LOSS_PLOT_NAME, RESULT_NAME, SAMPLES_NAME
from ganzoo.training.checkpoint import load_checkpoint
from ganzoo.training.metrics_log import METRICS_NAME
from ganzoo.training.plots import plot_losses
from ganzoo.training.run import Run
from ganzoo.weights import WEIGHTS_NAME, write_weights
from ganzoo.weights.metadata import weights_metadata


def register_run(store: RunStore, spec: ModelSpec, config: TrainConfig, run: Run, status: str,
                 message: str, parent: str | None, dataset: str) -> VersionRecord:
    """Write the run's weights (a diverged run: its last checkpoint's), loss plot, final grid
    and ``result.json`` into its work folder, and register it as a new version of
    ``spec.model_id`` (``parent``: the version it resumed)."""
    workdir, pos = run.workdir, run.position
    if status == "complete" or status == "interrupted":
        arrays = run.trainer.weights()
        epochs_done, steps_done = pos.epoch, pos.global_step
    else:
        state, saved = load_checkpoint(run.checkpoint)
        arrays = {k: v for k, v in state.items()
                  if k.startswith(("generator.", "discriminator."))}
        epochs_done, steps_done = saved["epoch"], saved["global_step"]
    write_weights(workdir / WEIGHTS_NAME, arrays,
                  weights_metadata(spec, config, epochs_done, steps_done))
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

