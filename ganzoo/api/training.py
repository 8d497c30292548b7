"""``ganzoo.train``: a training run from Python, with the CLI's shell and progress bar."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ganzoo.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from ganzoo.store import VersionRecord

TRACK_ENV = "GANZOO_TRACK"


def train(model_id: str, data: str | None = None, *, split: str = "train",
          recipe: str | None = None, epochs: int | None = None, batch_size: int | None = None,
          seed: int = 0, device: str = "auto", amp: bool = False, compile: bool = False,
          max_steps: int | None = None, log_every: int = 20,
          data_dir: str | Path | None = None, resume: str | None = None,
          progress: bool = True, tensorboard: str | Path | None = None,
          track: str | None = None, console: Console | None = None) -> VersionRecord:
    """Train ``model_id`` and register the result; returns the new version's record.

    The arguments are ``ganzoo train``'s options (``None``: the recipe's default). The live
    progress bar is rich's, which renders in a terminal and in Jupyter. ``track="mlflow"``
    (default: ``$GANZOO_TRACK``) also logs the run to MLflow. The record's ``status`` says how
    it ended: ``complete``, ``interrupted`` (Ctrl-C / kernel interrupt; a checkpoint is kept)
    or ``diverged``; ``record.ref`` is what :func:`ganzoo.load` takes. One process, one device:
    data-parallel training (``--devices``) stays with the CLI.
    """
    from rich.console import Console

    from ganzoo.api.listing import catalog as get_catalog
    from ganzoo.store import RunStore
    from ganzoo.training.config import build_config
    from ganzoo.training.loop import train as run_training
    from ganzoo.training.mlflow_sink import check_tracker

    catalog = get_catalog()
    spec = catalog.model(model_id)
    config = build_config(spec, recipe=recipe, data=data, split=split, epochs=epochs,
                          batch_size=batch_size, seed=seed, device=device, amp=amp,
                          compile=compile, log_every=log_every, max_steps=max_steps)
    track = track if track is not None else (os.environ.get(TRACK_ENV) or None)
    check_tracker(track)
    if resume and epochs is None:
        raise UsageError("resume= needs epochs=: the total number of epochs to reach")
    store = RunStore()
    store.ensure_writable()
    record = run_training(catalog, config, store, data_dir=data_dir, resume=resume,
                          console=console or Console(), show_progress=progress,
                          tensorboard=Path(tensorboard) if tensorboard is not None else None,
                          track=track)
    assert record is not None  # only torchrun ranks other than 0 get None
    return record
