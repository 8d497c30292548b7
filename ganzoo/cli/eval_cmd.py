"""``ganzoo eval`` and ``ganzoo compare``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ganzoo.cli.console import console, guarded, load_catalog

_METRICS = (  # key, label, format
    ("fid", "FID ↓", "{:.2f}"),
    ("kid", "KID ↓", "{:.5f}"),
    ("precision", "precision ↑", "{:.3f}"),
    ("recall", "recall ↑", "{:.3f}"),
    ("is", "IS-like ↑", "{:.2f}"),
    ("coverage", "class coverage ↑", "{:.0%}"),
    ("class_entropy", "class entropy ↑", "{:.3f}"),
    ("class_tv", "class TV to real ↓", "{:.3f}"),
)


@guarded
def evaluate(
    ref: str = typer.Argument(..., help="A trained version: MODEL@N or MODEL (the latest)."),
    data: str = typer.Option(None, "--data", "-d",
                             help="Dataset to measure against. Default: the version's own."),
    n: int = typer.Option(10_000, "-n", min=10, help="Generated images (FID depends on it)."),
    seed: int = typer.Option(0, help="Noise seed (and real-subset seed when n < 10,000)."),
    data_dir: Path = typer.Option(None, "--data-dir",
                                  help="A folder with fashion-mnist/ and mnist/ IDX files."),
    as_json: bool = typer.Option(False, "--json", help="Print the protocol and results as JSON."),
) -> None:
    """Measure a version (FID, KID, precision, recall, IS-like, class coverage) and store it."""
    from ganzoo.evaluation import Evaluator
    from ganzoo.metrics.protocol import describe
    from ganzoo.store import RunStore

    catalog = load_catalog()
    store = RunStore()
    record = store.resolve(ref)
    dataset = data or record.dataset
    if dataset != record.dataset:
        console.print(f"[yellow]note:[/] {record.ref} was trained on {record.dataset}; "
                      f"measuring it against {dataset}.")
    with console.status(f"Preparing the {dataset} reference set and the real floor..."):
        evaluator = Evaluator(catalog, dataset, n, seed, data_dir=data_dir)
        evaluator.floor  # noqa: B018 - computed (or read from the cache) under the spinner
    with console.status(f"Evaluating {record.ref}: generating and measuring {n:,} images..."):
        result = evaluator.evaluate(record)
    store.add_evaluation(record.ref, result.protocol, result.results)
    if as_json:
        console.print_json(json.dumps({"ref": record.ref, "protocol": result.protocol,
                                       "results": result.results}))
        return
    floor = result.results["floor"]
    table = Table(title=f"{record.ref} on {dataset}", title_justify="left")
    table.add_column("metric")
    table.add_column(record.ref, justify="right")
    table.add_column("real floor", justify="right", style="dim")
    for key, label, fmt in _METRICS:
        table.add_row(label, fmt.format(result.results[key]), fmt.format(floor[key]))
    console.print(table)
    console.print(f"Protocol: {describe(result.protocol)}.", highlight=False)
    console.print(f"Real floor: {floor['method']}.", highlight=False)
    console.print(f"Predicted classes: {result.results['class_histogram']}", highlight=False)
    console.print(f"Stored on {record.ref} (see 'ganzoo runs show {record.ref}').")


@guarded
def compare(
    refs: list[str] = typer.Argument(..., help="Models (latest version) or MODEL@N versions."),
    data: str = typer.Option("fashion", "--data", "-d", help="Dataset every model is judged on."),
    n: int = typer.Option(10_000, "-n", min=10, help="Generated images per model."),
    seed: int = typer.Option(0, help="Noise seed for metrics and sample grids (and training)."),
    train_missing: bool = typer.Option(False, "--train-missing",
                                       help="Train models with no version on --data."),
    epochs: int = typer.Option(None, "--epochs", "-e", min=1,
                               help="The training budget: picks versions trained this long, "
                                    "and trains missing ones for this long."),
    output: Path = typer.Option(None, "--output", "-o",
                                help="Report folder. Default: compare-<timestamp>/."),
    data_dir: Path = typer.Option(None, "--data-dir",
                                  help="A folder with fashion-mnist/ and mnist/ IDX files."),
    fresh: bool = typer.Option(False, "--fresh",
                               help="Re-evaluate even where an evaluation of the same "
                                    "protocol is stored."),
    stored: bool = typer.Option(False, "--stored",
                                help="Use only stored evaluations (latest of each version)."),
    progress: bool = typer.Option(True, help="Show training progress bars."),
) -> None:
    """Compare models side by side: a ranked table and a report folder with pictures."""
    from ganzoo.compare import rich_table, run_compare

    report = run_compare(load_catalog(), refs, dataset=data, n=n, seed=seed,
                         train_missing=train_missing, epochs=epochs, out_dir=output,
                         data_dir=data_dir, fresh=fresh, stored_only=stored, console=console,
                         show_progress=progress)
    console.print(rich_table(report))
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    folder = Path(report.files["report.md"]).parent
    names = ", ".join(Path(p).name for k, p in report.files.items() if k != "samples_note")
    console.print(f"Report in [bold]{folder}[/]: {names}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
    app.command("compare")(compare)
