"""``ganzoo train`` and ``ganzoo sample``."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import typer

from ganzoo.cli.console import console, guarded, load_catalog
from ganzoo.errors import UsageError
from ganzoo.launching import STATUS_ENV, check_supported, rank_of


@guarded
def train(
    ctx: typer.Context,
    model_id: str = typer.Argument(..., help="Model id, e.g. dcgan-torch (see 'ganzoo list')."),
    data: str = typer.Option(None, "--data", "-d",
                             help="Dataset name (fashion, mnist). Default: the recipe's."),
    split: str = typer.Option("train", help="train, test, or bundled-test (shipped with ganzoo)."),
    data_dir: Path = typer.Option(None, "--data-dir",
                                  help="A folder with fashion-mnist/ and mnist/ IDX files."),
    recipe: str = typer.Option(None, "--recipe", "-r", help="A recipe of the model's card."),
    epochs: int = typer.Option(None, "--epochs", "-e", min=1, help="Default: the recipe's."),
    batch_size: int = typer.Option(None, "--batch-size", "-b", min=1,
                                   help="Default: the recipe's."),
    seed: int = typer.Option(0, help="Random seed (runs are deterministic on CPU)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    amp: bool = typer.Option(False, "--amp", help="bf16 autocast / mixed precision."),
    compile_: bool = typer.Option(False, "--compile",
                                  help="torch.compile (torch) or XLA jit (keras)."),
    max_steps: int = typer.Option(None, "--max-steps", min=1,
                                  help="Cap the steps of each epoch (quick trials)."),
    log_every: int = typer.Option(20, "--log-every", min=1,
                                  help="Steps between metric read-backs and log lines."),
    resume: str = typer.Option(
        None, "--resume",
        help="Continue a registered version (MODEL@N) up to --epochs. The saved run's "
             "settings (recipe, data, split, batch size, seed, amp, devices) are kept; giving "
             "one again with another value is an error. Only --epochs (the new total) and "
             "--max-steps (a new cap per epoch) change the run; --device and --log-every "
             "apply to this session."),
    progress: bool = typer.Option(True, help="Show the live progress bar."),
    tensorboard: Path = typer.Option(None, "--tensorboard",
                                     help="Also write TensorBoard scalars and images here."),
    devices: int = typer.Option(1, "--devices", min=1,
                                help="Data-parallel over N devices, where the backend "
                                     "can (torch: torchrun; keras: MirroredStrategy)."),
    eval_every: int = typer.Option(
        None, "--eval-every", min=1,
        help="Every N epochs (and after the last), measure a cheap FID (--eval-n images vs the "
             "test split) and keep the best epoch's weights as best.safetensors; warns when "
             "class coverage collapses. Off by default."),
    eval_n: int = typer.Option(2000, "--eval-n", min=10,
                               help="Images per --eval-every evaluation."),
    track: str = typer.Option(None, "--track", envvar="GANZOO_TRACK",
                              help="Also log to an experiment tracker: mlflow (params, metrics, "
                                   "sample grids, loss plot, weights; needs ganzoo[mlflow])."),
) -> None:
    """Train a model with a live progress bar and register the result as a new version."""
    from ganzoo.store import RunStore
    from ganzoo.training.config import build_config
    from ganzoo.training.loop import check_resume
    from ganzoo.training.loop import train as run_training
    from ganzoo.training.mlflow_sink import check_tracker

    catalog = load_catalog()
    spec = catalog.model(model_id)
    config = build_config(spec, recipe=recipe, data=data, split=split, epochs=epochs,
                          batch_size=batch_size, seed=seed, device=device, amp=amp,
                          compile=compile_, log_every=log_every, max_steps=max_steps,
                          devices=devices)
    check_tracker(track)  # an unknown tracker, or mlflow missing, says so before training
    if resume and epochs is None:
        raise UsageError("--resume needs --epochs: the total number of epochs to reach")
    given = _given_options(ctx)
    # The resume rule, then what the backend cannot do, are refused here, in one line,
    # before anything is launched (not once in every launched process).
    effective = check_resume(RunStore(), resume, config, given) if resume else config
    backend = spec.load_backend()
    check_supported(backend, effective, spec.backend)
    rank = rank_of(backend)  # None: not one of the processes a launcher started
    if effective.devices > 1 and rank is None:  # a resumed run keeps its saved devices
        code = _launch(backend, effective.devices)
        if code is not None:
            raise typer.Exit(code)
    store = RunStore()
    store.ensure_writable()  # a read-only home says so before any training starts
    record = run_training(catalog, config, store, data_dir=data_dir, resume=resume,
                          console=console, show_progress=progress, tensorboard=tensorboard,
                          given=given, track=track, eval_every=eval_every, eval_n=eval_n)
    if rank is not None:
        # A launched process exits 0 (torchrun's agent takes any other code for a failure);
        # rank 0 tells the launching CLI the outcome, which then exits with the table's code.
        report = os.environ.get(STATUS_ENV)
        if report and record is not None:
            Path(report).write_text(record.status, encoding="utf-8")
        return
    code = exit_code_for(record.status if record is not None else "complete")
    if code:
        raise typer.Exit(code)


# TrainConfig fields and the ``train`` parameters that set them.
_CONFIG_PARAMETERS = {"recipe": "recipe", "dataset": "data", "split": "split",
                      "epochs": "epochs", "batch_size": "batch_size", "seed": "seed",
                      "device": "device", "amp": "amp", "compile": "compile_",
                      "log_every": "log_every", "max_steps": "max_steps", "devices": "devices"}


def _given_options(ctx: typer.Context) -> frozenset[str]:
    """The TrainConfig fields whose options were written on the command line (not defaults)."""
    # By name: typer's click is vendored (typer._click), its ParameterSource enum private.
    return frozenset(field for field, param in _CONFIG_PARAMETERS.items()
                     if getattr(ctx.get_parameter_source(param), "name", None) == "COMMANDLINE")


def exit_code_for(status: str) -> int:
    """The exit code of a training that ended with ``status`` (docs/exit-codes.md)."""
    from ganzoo.errors import EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK

    return {"interrupted": EXIT_INTERRUPTED, "diverged": EXIT_DIVERGED}.get(status, EXIT_OK)


def _launch(backend: object, devices: int) -> int | None:
    """Hand ``--devices N`` to the backend's ``launch``: the exit code of what it launched
    (rank 0 reports the training's status through a file), or ``None`` when it launched
    nothing and this process trains on every device itself."""
    with tempfile.TemporaryDirectory(prefix="ganzoo-ranks-") as scratch:
        report = Path(scratch) / "status"
        os.environ[STATUS_ENV] = str(report)  # inherited by whatever the backend starts
        try:
            code = backend.launch(devices, sys.argv[1:])  # type: ignore[attr-defined]
        finally:
            os.environ.pop(STATUS_ENV, None)
        if code == 0 and report.is_file():
            code = exit_code_for(report.read_text(encoding="utf-8").strip())
    return code


@guarded
def sample(
    ref: str = typer.Argument(None, help="A trained version: MODEL@N or MODEL@latest."),
    n: int = typer.Option(None, "-n", min=1,
                          help="Number of images (default 64; with --by-class: per grid, "
                               "default 8 per class)."),
    output: Path = typer.Option(Path("samples.png"), "--output", "-o", help="PNG to write."),
    seed: int = typer.Option(0, help="Noise seed."),
    weights: Path = typer.Option(None, "--weights",
                                 help="Sample from an exported weights file instead of REF."),
    backend: str = typer.Option(None, "--backend",
                                help="With --weights: the backend to sample with."),
    label: int = typer.Option(None, "--label",
                              help="Class-conditional models: every image of this class."),
    by_class: bool = typer.Option(False, "--by-class",
                                  help="Class-conditional models: one labelled row per class."),
) -> None:
    """Write a PNG grid of images generated by a trained version (or a weights file)."""
    from ganzoo.sampling import sample_grid

    path = sample_grid(load_catalog(), ref, n=n, output=output, seed=seed, weights=weights,
                       backend=backend, label=label, by_class=by_class)
    what = ("one row per class" if by_class else
            f"{n or 64} samples" + (f" of class {label}" if label is not None else ""))
    console.print(f"Wrote {what} to [bold]{path}[/]")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("sample")(sample)
