"""``ganzoo export`` and ``ganzoo import``: weights files that any backend can load."""

from __future__ import annotations

from pathlib import Path

import typer

from ganzoo.cli.console import console, guarded, load_catalog


def _parts(parts: tuple[str, ...]) -> str:
    return " + ".join(parts) if parts else "nothing"


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


@guarded
def export(
    ref: str = typer.Argument(..., help="The version to export: MODEL@N, MODEL@latest or MODEL."),
    output: Path = typer.Option(..., "--output", "-o",
                                help="The .safetensors file to write."),
    part: str = typer.Option("all", "--part",
                             help="generator, discriminator or all (what the version holds)."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUTPUT if it exists."),
) -> None:
    """Write a trained version's weights and metadata to a safetensors file any backend loads."""
    from ganzoo.exchange import export_version
    from ganzoo.store import RunStore

    done = export_version(load_catalog(), RunStore(), ref, output, part=part, force=force)
    console.print(f"Exported [bold]{done.record.ref}[/] ({_parts(done.parts)}, "
                  f"{done.values:,} values) to [bold]{done.path}[/]", highlight=False)
    if done.loaders:
        # Suggest another backend than the version's: that is what the file is for.
        backends = [m.backend for m in done.loaders]
        other = next((b for b in backends if b != done.record.backend), backends[0])
        console.print(f"Loadable by {', '.join(m.model_id for m in done.loaders)}: try "
                      f"'ganzoo sample --weights {done.path} --backend {other}' or "
                      f"'ganzoo import {done.path} --backend {other}'", highlight=False)
    for note in done.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


@guarded
def import_(
    file: Path = typer.Argument(..., help="A .safetensors file written by 'ganzoo export'."),
    backend: str = typer.Option(None, "--backend",
                                help="The backend to load it with (default: the one it was "
                                     "trained with), e.g. torch or keras."),
    seed: int = typer.Option(0, help="Noise seed of the sample grid written with the version."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Check the file and load it, but register nothing."),
) -> None:
    """Register an exported weights file as a new version of its model on a chosen backend."""
    from ganzoo.exchange import import_file
    from ganzoo.store import RunStore

    done = import_file(load_catalog(), RunStore(), file, backend=backend, seed=seed,
                       dry_run=dry_run)
    meta, checked = done.checked.meta, done.checked
    trained = (f"trained with {checked.trained_backend}"
               + (f" on {meta['dataset']}" if meta.get("dataset") else "")
               + (f", {_epochs(meta['epochs'])}" if meta.get("epochs") is not None else ""))
    what = (f"{checked.card.family}, recipe {checked.recipe.name}, {_parts(checked.parts)}; "
            f"{trained}")
    if done.record is None:
        console.print(f"[green]OK[/] {file} loads as [bold]{done.spec.model_id}[/] ({what}). "
                      "Nothing registered (--dry-run).", highlight=False)
    else:
        console.print(f"Imported {file} as [bold]{done.record.ref}[/] ({what}).\n"
                      f"Samples: {done.samples}", highlight=False)
    for note in done.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)
