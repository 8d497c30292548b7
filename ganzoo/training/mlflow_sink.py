"""Optional MLflow tracking: a sink beside TensorBoard's, fed by the one training shell.

``ganzoo train ... --track mlflow`` (or ``GANZOO_TRACK=mlflow``) logs the run's params (model,
recipe hyper-parameters, the training config), the metrics of every log interval, the fixed-noise
sample grid of every epoch, and, once the version is registered, its loss plot, final sample grid
and exported weights (``weights/<model>-<version>.safetensors``). ganzoo's registry stays the
source of truth; MLflow only receives copies.

Where: ``MLFLOW_TRACKING_URI`` when set (a server, a database), else a local SQLite store in
``<ganzoo home>/mlflow`` (offline). The experiment is ``ganzoo`` (``MLFLOW_EXPERIMENT_NAME``
overrides it). Only :class:`mlflow.MlflowClient` is used, never the global active run, so a
notebook's own ``mlflow.start_run()`` is left alone.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganzoo.errors import UsageError
from ganzoo.images import make_grid
from ganzoo.store.layout import CONFIG_NAME, LOSS_PLOT_NAME, METRICS_NAME, SAMPLES_NAME

if TYPE_CHECKING:
    from ganzoo.catalog import Catalog, ModelSpec
    from ganzoo.protocols import TrainConfig
    from ganzoo.store import RunStore, VersionRecord

TRACKERS = ("mlflow",)
EXPERIMENT = "ganzoo"
# An MLflow run's final status for each status of a ganzoo version.
RUN_STATUS = {"complete": "FINISHED", "interrupted": "KILLED", "diverged": "FAILED"}


def check_tracker(track: str | None) -> None:
    """Refuse an unknown tracker, or one whose package is missing, before any training."""
    if not track:
        return
    if track not in TRACKERS:
        raise UsageError(f"--track {track}: unknown tracker; choose one of {', '.join(TRACKERS)}")
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise UsageError(
            "--track mlflow needs the mlflow package: pip install 'ganzoo[mlflow]'"
        ) from None


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else a SQLite store in ``<ganzoo home>/mlflow`` (offline)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{local_folder() / 'mlflow.db'}"


def local_folder() -> Path:
    """The folder of the default local store: its database and its artifacts."""
    from ganzoo.store.runstore import ganzoo_home

    return ganzoo_home() / "mlflow"


def recipe_params(spec: ModelSpec, config: TrainConfig) -> dict[str, str]:
    """The params an MLflow run records: the config, then the recipe's hyper-parameters."""
    recipe = spec.card.recipe(config.recipe)
    params: dict[str, Any] = {f"config.{k}": v for k, v in config.to_dict().items()
                              if k != "extra"}
    params.update({"family": spec.family, "backend": spec.backend,
                   "recipe.latent_dim": recipe.latent_dim, "recipe.noise": recipe.noise,
                   "recipe.loss": recipe.loss, "recipe.step": recipe.step,
                   "recipe.d_steps_per_g": recipe.d_steps_per_g,
                   "recipe.penalty": getattr(recipe.penalty, "name", None) or "none",
                   "card_sha256": spec.card.digest})
    for net, optimizer in recipe.optimizers.items():
        params[f"recipe.optimizer.{net}"] = optimizer.name
        for key, value in optimizer.settings.items():
            params[f"recipe.optimizer.{net}.{key}"] = value
    return {k: str(v) for k, v in params.items()}


class MLflowSink:
    """One MLflow run receiving what the training shell produces (same calls as TensorBoard's)."""

    def __init__(self, catalog: Catalog, store: RunStore, config: TrainConfig,
                 tracking_uri: str | None = None) -> None:
        check_tracker("mlflow")
        from mlflow import MlflowClient

        self.catalog, self.store = catalog, store
        spec = catalog.model(config.model_id)

        self.tracking_uri = tracking_uri or default_tracking_uri()
        local = self.tracking_uri == f"sqlite:///{local_folder() / 'mlflow.db'}"
        if local:
            local_folder().mkdir(parents=True, exist_ok=True)
        for noisy in ("mlflow.store.db.utils", "alembic"):  # table creation is not news
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            experiment_id = found.experiment_id
        else:
            where = (local_folder() / "artifacts").as_uri() if local else None
            experiment_id = self.client.create_experiment(name, artifact_location=where)
        run = self.client.create_run(experiment_id, run_name=f"{spec.model_id} {config.recipe}",
                                     tags={"ganzoo.model_id": spec.model_id,
                                           "ganzoo.dataset": config.dataset})
        self.run_id: str = run.info.run_id
        self.finished = False
        self.broken = False  # set when MLflow fails mid-run: logging stops, training goes on
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[
            Param(k, v) for k, v in recipe_params(spec, config).items()])

    def _failed(self, what: str, exc: Exception) -> None:
        """A sink never stops a training: say once that MLflow stopped receiving it."""
        if not self.broken:
            self.broken = True
            print(f"warning: MLflow ({self.tracking_uri}) stopped receiving this run while "
                  f"logging {what}: {exc}; training and registration go on", file=sys.stderr)

    def scalars(self, step: int, metrics: dict[str, float], prefix: str = "train/") -> None:
        """The metrics of one log interval, at ``step`` (the global step)."""
        from mlflow.entities import Metric

        if self.broken:
            return
        now = int(time.time() * 1000)
        try:
            self.client.log_batch(self.run_id, metrics=[
                Metric(prefix + k, float(v), now, step) for k, v in metrics.items()])
        except Exception as exc:
            self._failed("metrics", exc)

    def image(self, step: int, tag: str, images: np.ndarray) -> None:
        """A grid of (N, H, W, C) images in [-1, 1], as ``<tag>/step_<step>.png``."""
        if self.broken:
            return
        grid = make_grid(images)
        try:
            self.client.log_image(self.run_id, grid[..., 0] if grid.shape[-1] == 1 else grid,
                                  artifact_file=f"{tag}/step_{step:07d}.png")
        except Exception as exc:
            self._failed("a sample grid", exc)

    def close(self) -> None:
        """Training left the loop: a run never finished by :meth:`finish` ended in an error."""
        if not self.finished and not self.broken:
            try:
                self.client.set_terminated(self.run_id, "FAILED")
            except Exception as exc:
                self._failed("the run's end", exc)

    def finish(self, record: VersionRecord) -> None:
        """Log the registered version's loss plot, sample grid and exported weights; end the run."""
        if self.broken:
            return
        try:
            self._finish(record)
        except Exception as exc:
            self._failed(f"the files of {record.ref}", exc)

    def _finish(self, record: VersionRecord) -> None:
        from ganzoo.exchange import export_version

        self.client.set_tag(self.run_id, "ganzoo.ref", record.ref)
        self.client.set_tag(self.run_id, "ganzoo.status", record.status)
        self.client.set_tag(self.run_id, "ganzoo.path", str(record.path))
        for name in (LOSS_PLOT_NAME, SAMPLES_NAME, CONFIG_NAME, METRICS_NAME):
            if (record.path / name).is_file():
                self.client.log_artifact(self.run_id, str(record.path / name))
        with tempfile.TemporaryDirectory(prefix="ganzoo-mlflow-") as scratch:
            name = f"{record.model_id}-{record.version}.safetensors"
            export_version(self.catalog, self.store, record.ref, Path(scratch) / name)
            self.client.log_artifact(self.run_id, str(Path(scratch) / name), "weights")
        self.finished = True
        self.client.set_terminated(self.run_id, RUN_STATUS.get(record.status, "FINISHED"))


class Sinks:
    """Several sinks fed as one (TensorBoard and MLflow side by side)."""

    def __init__(self, *sinks: Any) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def scalars(self, step: int, metrics: dict[str, float]) -> None:
        for sink in self.sinks:
            sink.scalars(step, metrics)

    def image(self, step: int, tag: str, images: np.ndarray) -> None:
        for sink in self.sinks:
            sink.image(step, tag, images)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    def finish(self, record: VersionRecord) -> None:
        for sink in self.sinks:
            if hasattr(sink, "finish"):
                sink.finish(record)


def attach_tracker(existing: Any, track: str, catalog: Catalog, store: RunStore,
                   config: TrainConfig) -> Sinks:
    """``existing`` (a TensorBoard log, or None) plus the tracker ``track`` names."""
    check_tracker(track)
    return Sinks(existing, MLflowSink(catalog, store, config))
