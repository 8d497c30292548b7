"""``ganzoo eval`` and ``ganzoo compare``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ganzoo.cli.console import console, err_console, guarded, load_catalog, print_json, width
from ganzoo.errors import UsageError
from ganzoo.tables import fit_table

_METRICS = (  # key, label, format
    ("fid", "FID ↓", "{:.2f}"),
    ("kid", "KID ↓", "{:.5f}"),
    ("precision", "precision ↑", "{:.3f}"),
    ("recall", "recall ↑", "{:.3f}"),
    ("density", "density ↑", "{:.3f}"),
    ("knn_coverage", "k-NN coverage ↑", "{:.3f}"),
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
    split: str = typer.Option(
        None, "--split", help="The training split whose reference to measure against: a "
        "bundled split (bundled-test) is measured against bundled-test, offline, reference "
        "and floor from the package; any other against test. Default: the version's own."),
    as_json: bool = typer.Option(False, "--json", help="Print the protocol and results as JSON "
                                 "(schema: docs/cli-json.md)."),
) -> None:
    """Measure a version (FID, KID, precision, recall, IS-like, class coverage) and store it."""
    from ganzoo.evaluation import Evaluator
    from ganzoo.metrics.protocol import describe
    from ganzoo.metrics.reference import reference_split_for
    from ganzoo.store import RunStore

    catalog = load_catalog()
    store = RunStore()
    record = store.resolve(ref)
    dataset = data or record.dataset
    out = err_console if as_json else console  # stdout holds only the JSON
    if split is not None:
        catalog.dataset(dataset).split(split)  # an unknown split: a usage error naming the others
    real_split = reference_split_for(split if split is not None else record.split)
    if dataset != record.dataset:
        out.print(f"[yellow]note:[/] {record.ref} was trained on {record.dataset}; "
                      f"measuring it against {dataset}.")
    with out.status(f"Preparing the {dataset}/{real_split} reference and the real floor..."):
        evaluator = Evaluator(catalog, dataset, n, seed, data_dir=data_dir,
                              real_split=real_split)
        evaluator.floor  # noqa: B018 - computed (or read from the cache) under the spinner
    with out.status(f"Evaluating {record.ref}: generating and measuring {n:,} images..."):
        result = evaluator.evaluate(record)
    store.add_evaluation(record.ref, result.protocol, result.results)
    if as_json:
        print_json({"ref": record.ref, "model_id": record.model_id, "dataset": dataset,
                    "real_split": real_split, "protocol": result.protocol,
                    "protocol_key": result.key, "results": result.results})
        return
    floor = result.results["floor"]
    table = Table(title=f"{record.ref} on {dataset}", title_justify="left")
    table.add_column("metric")
    table.add_column(record.ref, justify="right")
    table.add_column("real floor", justify="right", style="dim")
    for key, label, fmt in _METRICS:
        value, real = result.results.get(key), floor.get(key)
        table.add_row(label, "—" if value is None else fmt.format(value),
                      "—" if real is None else fmt.format(real))
    fit_table(table, width(), whole=(record.ref,))
    console.print(table)
    if real_split.startswith("bundled-"):
        console.print(f"Reference and floor: {dataset}/{real_split}, the copy shipped with "
                      "ganzoo.", highlight=False)
    console.print(f"Protocol: {describe(result.protocol)}.", highlight=False)
    console.print(f"Real floor: {floor['method']}.", highlight=False)
    console.print(f"Predicted classes: {result.results['class_histogram']}", highlight=False)
    _print_conditional(result.results.get("conditional"))
    console.print(f"Stored on {record.ref} (see 'ganzoo runs show {record.ref}').")


def _print_conditional(cond: dict | None) -> None:
    """A conditional model's label accuracy and per-class FID, under the table."""
    if not cond:
        return
    chance = 1 / cond["classes"]
    console.print(f"Label accuracy (classifier's class = the label asked for): "
                  f"{cond['label_accuracy']:.1%} (chance {chance:.0%}); by class: "
                  + ", ".join(f"{c}: {v:.0%}" for c, v in
                              cond["label_accuracy_by_class"].items()), highlight=False)
    if cond["per_class_fid"]:
        console.print(f"Per-class FID (>= {cond['per_class_min_n']} images of the class on "
                      f"both sides), mean {cond['per_class_fid_mean']:.2f}: "
                      + ", ".join(f"{c}: {v:.1f}" for c, v in cond["per_class_fid"].items()),
                      highlight=False)
    if cond["per_class_skipped"]:
        console.print(f"Per-class FID skipped for classes {cond['per_class_skipped']}: fewer "
                      f"than {cond['per_class_min_n']} images (raise -n).", highlight=False)


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
    split: str = typer.Option(
        None, "--split", help="Training split of missing models (train, test, or bundled-test: "
        "shipped with ganzoo, fully offline); chosen versions are kept to it. A bundled split "
        "is judged against bundled-test. Default: train, judged against test."),
    max_steps: int = typer.Option(None, "--max-steps", min=1,
                                  help="Cap each epoch of the missing models' training at N "
                                       "steps (quick trials); part of the budget."),
    progress: bool = typer.Option(True, help="Show training progress bars."),
    as_json: bool = typer.Option(False, "--json", help="Print report.json on stdout instead of "
                                 "the table (schema: docs/cli-json.md)."),
) -> None:
    """Compare models side by side: a ranked table and a report folder with pictures.

    Budgets are compared in images seen (steps x batch): rows trained on different numbers
    of images are flagged.
    """
    from ganzoo.compare import rich_table, run_compare

    catalog = load_catalog()
    if split is not None:
        catalog.dataset(data).split(split)  # an unknown split: a usage error naming the others
    if max_steps is not None and epochs is None:
        raise UsageError("--max-steps is part of the budget: give --epochs N with it")
    report = run_compare(catalog, refs, dataset=data, n=n, seed=seed,
                         train_missing=train_missing, epochs=epochs, out_dir=output,
                         data_dir=data_dir, fresh=fresh, stored_only=stored,
                         console=err_console if as_json else console,
                         show_progress=progress, split=split, max_steps=max_steps)
    if as_json:
        print_json(report.to_json())
        return
    console.print(rich_table(report, width=width()))
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    folder = Path(report.files["report.md"]).parent
    names = ", ".join(Path(p).name for k, p in report.files.items() if k != "samples_note")
    console.print(f"Report in [bold]{folder}[/]: {names}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
    app.command("compare")(compare)
