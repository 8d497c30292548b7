"""``ganzoo runs``: list, show and remove trained versions."""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.markup import escape
from rich.table import Table

from ganzoo.cli.console import console, err_console, guarded, width
from ganzoo.store.layout import CONFIG_NAME
from ganzoo.tables import fit_table

runs_app = typer.Typer(help="Trained versions in the registry (list, show, rm, reindex, "
                            "recover, gc).",
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

    store = RunStore()
    records = store.list(model, data)
    _warn_disagreements(store)
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in records], default=str))
        return
    table = Table(title="trained versions", title_justify="left")
    for col in ("version", "status", "recipe", "data", "epochs", "steps", "img/s", "wall",
                "D loss", "G loss", "created"):
        table.add_column(col, justify="right" if col in ("epochs", "steps", "img/s") else "left")
    for r in records:
        m = r.final_metrics
        if r.imported_from is not None:
            # Imported weights: no training ran here, so no steps, speed or losses to show.
            table.add_row(
                r.ref, f"[cyan]imported[/] from {escape(r.imported_from)}", r.recipe,
                f"{r.dataset}/{r.split}", str(r.epochs), "-", "-", "-", "-", "-",
                dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M"),
            )
            continue
        table.add_row(
            r.ref, f"[{_STATUS_STYLE.get(r.status, '')}]{r.status}[/]", r.recipe,
            f"{r.dataset}/{r.split}", str(r.epochs), f"{r.steps:,}", f"{r.images_per_s:,.0f}",
            f"{r.wall_time_s:.1f}s", f"{m.get('d_loss', float('nan')):.3f}",
            f"{m.get('g_loss', float('nan')):.3f}",
            dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M"),
        )
    # The ref is what the user copies (sample, export, compare): never cut; the rest wraps
    # and, on a narrow terminal, gives way.
    fit_table(table, width(), whole=("version",),
              drop=("created", "wall", "img/s", "D loss", "G loss", "recipe", "steps",
                    "epochs", "data"))
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
                  f"{record.status}[/]" + (
                      f" (imported from {escape(record.imported_from)})"
                      if record.imported_from is not None
                      else f" (resumed from {record.parent})" if record.parent else ""))
    info = record.to_dict()
    info.pop("evaluations")
    config_path = record.path / CONFIG_NAME
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


def _warn_disagreements(store: object) -> None:
    """One warning on stderr when the version folders and the index disagree."""
    problems = store.disagreements()  # type: ignore[attr-defined]
    if not problems:
        return
    shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5
                                       else "")
    err_console.print(f"[yellow]warning:[/] the version folders and the index disagree: "
                      f"{escape(shown)}. Rebuild the index with 'ganzoo runs reindex'.",
                      highlight=False, soft_wrap=True)


@runs_app.command("reindex")
@guarded
def reindex() -> None:
    """Rebuild the index from the version folders (their version.json; lineage kept)."""
    from ganzoo.store import RunStore

    records, skipped = RunStore().reindex()
    for line in skipped:
        err_console.print(f"[yellow]skipped:[/] {escape(line)}", highlight=False)
    console.print(f"Indexed {len(records)} version(s): "
                  f"{', '.join(r.ref for r in records) or 'none'}", highlight=False)


@runs_app.command("recover")
@guarded
def recover(
    workdir: str = typer.Argument(..., help="The work folder a registration left behind."),
) -> None:
    """Register a finished run whose registration gave up (busy index)."""
    from ganzoo.store import RunStore

    record = RunStore().recover(workdir)
    console.print(f"Registered [bold]{record.ref}[/] ({record.status}) in "
                  f"{escape(str(record.path))}", highlight=False)


@runs_app.command("gc")
@guarded
def gc(
    clean: bool = typer.Option(False, "--clean", help="Delete the orphan folders listed."),
) -> None:
    """List work folders no live process owns (after SIGKILL, a crash); --clean deletes them.

    Folders of live runs are never touched; a finished run that was never registered is kept
    (register it with 'ganzoo runs recover').
    """
    from ganzoo.store import RunStore

    store = RunStore()
    live = [w for w in store.work_folders() if w.live]
    orphans = store.gc(clean=clean)
    for w in orphans:
        if w.pending:
            note = f"finished, not registered: 'ganzoo runs recover {w.path.name}'"
        else:
            note = "deleted" if clean else "orphan"
        console.print(f"{escape(str(w.path))}  {w.size / 1e6:,.1f} MB  "
                      f"(pid {w.pid if w.pid is not None else '?'} gone)  {escape(note)}",
                      highlight=False)
    total = sum(w.size for w in orphans if not w.pending)
    verb = "Deleted" if clean else "Found"
    console.print(f"{verb} {sum(not w.pending for w in orphans)} orphan work folder(s), "
                  f"{total / 1e6:,.1f} MB; {len(live)} in use by live processes (kept)."
                  + ("" if clean or not orphans else " Delete them with 'ganzoo runs gc "
                                                      "--clean'."), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
