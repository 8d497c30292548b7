"""``ganzoo export`` and ``ganzoo import``: weights files that any backend can load."""

from __future__ import annotations

from pathlib import Path

import typer

from ganzoo.cli.console import console, guarded, load_catalog
from ganzoo.errors import UsageError
from ganzoo.training.config import epochs_text


def _parts(parts: tuple[str, ...]) -> str:
    return " + ".join(parts) if parts else "nothing"


@guarded
def export(
    ref: str = typer.Argument(..., help="The version to export: MODEL@N, MODEL@latest or MODEL."),
    output: Path = typer.Option(None, "--output", "-o",
                                help="The .safetensors file to write."),
    part: str = typer.Option("all", "--part",
                             help="generator, discriminator or all (what the version holds)."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUTPUT if it exists."),
    hub_dir: Path = typer.Option(None, "--hub-dir",
                                 help="Write a Hugging Face Hub folder instead: "
                                      "model.safetensors, config.json, README.md (model card), "
                                      "samples.png (docs/python.md)."),
) -> None:
    """Write a trained version's weights and metadata to a safetensors file any backend loads."""
    from ganzoo.exchange import export_version
    from ganzoo.store import RunStore

    if (output is None) == (hub_dir is None):
        raise UsageError("name what to write: --output FILE.safetensors or --hub-dir DIR")
    if hub_dir is not None:
        _export_hub(ref, hub_dir, part, force)
        return
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


def _export_hub(ref: str, folder: Path, part: str, force: bool) -> None:
    from ganzoo.hub import export_hub
    from ganzoo.store import RunStore

    if part != "all":
        raise UsageError("--hub-dir writes the whole version (generator and discriminator); "
                         "drop --part")
    done = export_hub(load_catalog(), RunStore(), ref, folder, force=force)
    console.print(f"Wrote the Hub folder of [bold]{done.exported.record.ref}[/] to "
                  f"[bold]{done.folder}[/]: {', '.join(done.files)}. Upload it with:",
                  highlight=False)
    console.print(f"  hf upload USER/NAME {done.folder} .", highlight=False, soft_wrap=True)
    for note in done.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


@guarded
def import_(
    file: Path = typer.Argument(..., help="A .safetensors file written by 'ganzoo export', or "
                                "a Hub folder written by 'ganzoo export --hub-dir'."),
    backend: str = typer.Option(None, "--backend",
                                help="The backend to load it with (default: the one it was "
                                     "trained with), e.g. torch or keras."),
    seed: int = typer.Option(0, help="Noise seed of the sample grid written with the version."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Check the file and load it, but register nothing."),
) -> None:
    """Register an exported weights file as a new version of its model on a chosen backend."""
    from ganzoo.exchange import import_file
    from ganzoo.hub import weights_in
    from ganzoo.store import RunStore

    if file.is_dir():  # a Hub folder: its config.json must agree with its weights
        file = weights_in(file)
    done = import_file(load_catalog(), RunStore(), file, backend=backend, seed=seed,
                       dry_run=dry_run)
    meta, checked = done.checked.meta, done.checked
    trained = (f"trained with {checked.trained_backend}"
               + (f" on {meta['dataset']}" if meta.get("dataset") else "")
               + (f", {epochs_text(meta['epochs'])}" if meta.get("epochs") is not None else ""))
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
