"""``ganzoo datasets``: every dataset and split, its size, licence, and where it resolves now."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ganzoo.cli.console import console, guarded, load_catalog, print_json, width
from ganzoo.errors import DatasetError
from ganzoo.tables import fit_table

if TYPE_CHECKING:
    from ganzoo.data import DatasetSpec, SplitSpec


def _status(spec: DatasetSpec, split: SplitSpec, data_dir: Path | None, verify: bool) -> Text:
    from ganzoo.data import load_dataset, resolve

    resolution = resolve(spec, split, data_dir)
    if resolution.found is None:
        if split.bundled:
            return Text("missing from this installation: reinstall ganzoo", style="red")
        return Text("not found (fix below)", style="yellow")
    where = Text(str(resolution.found), style="green")
    if verify:
        try:
            loaded = load_dataset(spec, split=split.name, data_dir=data_dir, download=False)
        except DatasetError as exc:
            return Text(f"{resolution.found}\nBROKEN: {exc}", style="red")
        where.append(f"\nchecked: {loaded.verified}", style="dim")
    return where


@guarded
def datasets(
    data_dir: Path = typer.Option(
        None, "--data-dir", help="A folder holding one folder per dataset (fashion-mnist/, "
        "mnist/), looked in first, before $GANZOO_DATA.", file_okay=False,
    ),
    verify: bool = typer.Option(
        False, "--verify", help="Read every file found and check its sha256 (a few seconds)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table "
                                 "(schema: docs/cli-json.md)."),
) -> None:
    """Every dataset and split: images, licence, and where it resolves right now (no download)."""
    from ganzoo.data import cache_dir, downloads_enabled, remedy

    catalog = load_catalog()
    if as_json:
        print_json(_datasets_json(catalog, data_dir, verify))
        return
    table = Table(title="ganzoo datasets", title_justify="left")
    table.add_column("dataset")
    table.add_column("split")  # a name to type after --split: never cut
    table.add_column("images", justify="right")
    table.add_column("licence")
    table.add_column("resolves now", overflow="fold")
    missing: dict[str, list[SplitSpec]] = {}
    for name in sorted(catalog.datasets):
        spec = catalog.datasets[name]
        for split in spec.splits:
            status = _status(spec, split, data_dir, verify)
            if status.plain.startswith("not found"):
                missing.setdefault(spec.name, []).append(split)
            table.add_row(f"{spec.name}\n({spec.title})", split.name, f"{split.count:,}",
                          spec.licence, status)
    fit_table(table, width(), whole=("dataset", "split"), drop=("licence", "images"))
    console.print(table)
    for name, splits in missing.items():
        spec = catalog.datasets[name]
        names = ", ".join(s.name for s in splits)
        # soft_wrap: no hard line breaks inside paths and commands the user may copy.
        console.print(f"[yellow]{name} {names}: not found.[/] Fix: {escape(remedy(spec, *splits))}",
                      highlight=False, soft_wrap=True)
    if missing and not downloads_enabled():
        console.print("[yellow]Downloads are off[/] ($GANZOO_OFFLINE is set).", highlight=False)
    cache = escape(str(cache_dir()))
    console.print(f"[dim]Cache: {cache}. Load a split with --data NAME --split SPLIT.[/]",
                  highlight=False, soft_wrap=True)


def _datasets_json(catalog: object, data_dir: Path | None,
                   verify: bool) -> list[dict[str, object]]:
    """'ganzoo datasets --json': one entry per split (docs/cli-json.md)."""
    from ganzoo.data import load_dataset, remedy, resolve

    out: list[dict[str, object]] = []
    datasets = catalog.datasets  # type: ignore[attr-defined]
    for name in sorted(datasets):
        spec = datasets[name]
        for split in spec.splits:
            resolution = resolve(spec, split, data_dir)
            found = resolution.found
            entry: dict[str, object] = {
                "dataset": spec.name, "title": spec.title, "split": split.name,
                "images": split.count, "licence": spec.licence, "bundled": split.bundled,
                "found": found is not None,
                "location": str(found.location) if found else None,
                "place": found.label if found else None,
                "fix": None if found else remedy(spec, split),
            }
            if verify and found is not None:
                try:
                    entry["verified"] = str(load_dataset(spec, split=split.name,
                                                         data_dir=data_dir,
                                                         download=False).verified)
                except DatasetError as exc:
                    entry["verified"] = None
                    entry["error"] = str(exc)
            out.append(entry)
    return out


def register(app: typer.Typer) -> None:
    app.command("datasets")(datasets)
