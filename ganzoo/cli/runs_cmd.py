"""``ganzoo runs``: list, show and remove trained versions."""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.table import Table

from ganzoo.cli.console import console, guarded

runs_app = typer.Typer(help="Trained versions in the registry (list, show, rm).",
                       invoke_without_command=True)

_STATUS_STYLE = {"complete": "green", "interrupted": "yellow", "diverged": "red"}


@runs_app.callback()
@guarded
def runs(
    ctx: typer.Context,
    model: str = typer.Option(None, "--model", "-m", help="Only versions of this model id."),
    data: str = typer.Option(None, "--data", "-d", help="Only versions trained on this dataset."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List trained versions (filter by model and dataset)."""
    if ctx.invoked_subcommand is not None:
        return
    from ganzoo.store import RunStore

    records = RunStore().list(model, data)
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in records], default=str))
        return
    table = Table(title="trained versions", title_justify="left")
    for col in ("version", "status", "recipe", "data", "epochs", "steps", "img/s", "wall",
                "D loss", "G loss", "created"):
        table.add_column(col, justify="right" if col in ("epochs", "steps", "img/s") else "left")
    for r in records:
        m = r.final_metrics
        table.add_row(
            r.ref, f"[{_STATUS_STYLE.get(r.status, '')}]{r.status}[/]", r.recipe,
            f"{r.dataset}/{r.split}", str(r.epochs), f"{r.steps:,}", f"{r.images_per_s:,.0f}",
            f"{r.wall_time_s:.1f}s", f"{m.get('d_loss', float('nan')):.3f}",
            f"{m.get('g_loss', float('nan')):.3f}",
            dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)
    if not records:
        console.print("No trained versions yet: try 'ganzoo train dcgan-torch --data fashion'.")


@runs_app.command("show")
@guarded
def show(ref: str = typer.Argument(..., help="MODEL@N or MODEL@latest.")) -> None:
    """Everything recorded about one version: config, results, files, evaluations."""
    from ganzoo.store import RunStore

    record = RunStore().resolve(ref)
    console.print(f"[bold]{record.ref}[/] [{_STATUS_STYLE.get(record.status, '')}]"
                  f"{record.status}[/]" + (f" (resumed from {record.parent})"
                                           if record.parent else ""))
    info = record.to_dict()
    info.pop("evaluations")
    config_path = record.path / "config.json"
    if config_path.exists():
        info["config"] = json.loads(config_path.read_text())
    info["files"] = sorted(str(p.relative_to(record.path)) for p in record.path.rglob("*")
                           if p.is_file())
    info["evaluations"] = record.evaluations
    console.print_json(json.dumps(info, default=str))


@runs_app.command("rm")
@guarded
def remove(
    ref: str = typer.Argument(..., help="MODEL@N to delete."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a version (its folder and its index entry)."""
    from ganzoo.store import RunStore, parse_ref

    if parse_ref(ref).version is None and not yes:
        typer.confirm(f"'{ref}' means the latest version; delete it?", abort=True)
    store = RunStore()
    record = store.resolve(ref)
    if not yes:
        typer.confirm(f"Delete {record.ref} ({record.path})?", abort=True)
    store.remove(record.ref)
    console.print(f"Deleted {record.ref}.")


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
