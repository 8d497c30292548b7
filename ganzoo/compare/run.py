"""Running a comparison end to end: choose or train, evaluate, build and write the report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from rich.console import Console

from ganzoo.catalog import Catalog
from ganzoo.compare.render_images import sample_panels, side_by_side
from ganzoo.compare.render_markdown import LOSSES_NAME, SAMPLES_NAME, markdown
from ganzoo.compare.report import CompareReport, build_report
from ganzoo.compare.selection import resolve_versions
from ganzoo.errors import UsageError
from ganzoo.evaluation import Evaluation, Evaluator, find_stored, latest_stored
from ganzoo.metrics.reference import reference_split_for
from ganzoo.store import RunStore
from ganzoo.training.metrics_log import METRICS_NAME
from ganzoo.training.plots import plot_losses


def run_compare(catalog: Catalog, refs: list[str], *, dataset: str, n: int, seed: int = 0,
                store: RunStore | None = None, train_missing: bool = False,
                epochs: int | None = None, out_dir: Path | None = None,
                data_dir: str | Path | None = None, fresh: bool = False,
                stored_only: bool = False, console: Console | None = None,
                show_progress: bool = True, split: str | None = None,
                max_steps: int | None = None) -> CompareReport:
    """Choose (or train) the versions, evaluate them, and write the report folder.

    ``split`` is the training split of missing models (and keeps chosen versions to it); it
    also picks the real reference (:func:`reference_split_for`): a bundled split is judged
    against the bundled test copy, offline. ``max_steps`` caps each epoch of that training.
    """
    if not refs:
        raise UsageError("name at least one model to compare")
    store = store or RunStore()
    console = console or Console()
    chosen = resolve_versions(catalog, store, refs, dataset, train_missing=train_missing,
                              epochs=epochs, seed=seed, data_dir=data_dir, console=console,
                              show_progress=show_progress, split=split, max_steps=max_steps)
    protocol = floor_results = None
    evaluations: list[Evaluation | None] = []
    if stored_only:
        evaluations = [latest_stored(record) for record, _ in chosen]
    else:
        with console.status(f"Preparing the {dataset} reference set and the real floor..."):
            evaluator = Evaluator(catalog, dataset, n, seed, data_dir=data_dir,
                                  real_split=reference_split_for(split))
            floor_results = evaluator.floor
        protocol = evaluator.protocol
        for record, _ in chosen:
            found = None if fresh else find_stored(record, protocol)
            if found is None:
                with console.status(f"Evaluating {record.ref}: {n:,} images..."):
                    found = evaluator.evaluate(record)
                store.add_evaluation(record.ref, found.protocol, found.results)
            evaluations.append(found)
    report = build_report(catalog, dataset, chosen, evaluations, protocol, floor_results,
                          split=split)
    out_dir = Path(out_dir) if out_dir is not None else Path(
        f"compare-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    write_report(report, out_dir, catalog, seed)
    return report


def write_report(report: CompareReport, out_dir: Path, catalog: Catalog, seed: int = 0) -> Path:
    """Write report.md, report.json, samples.png and losses.png into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    panels, note = sample_panels(catalog, report, seed)
    if panels:
        side_by_side(panels, out_dir / SAMPLES_NAME)
        report.files[SAMPLES_NAME] = str(out_dir / SAMPLES_NAME)
        report.files["samples_note"] = note
    else:
        report.notes.append(f"No sample grid: {note}")
    curves = [(c.record.ref, c.record.path / METRICS_NAME) for c in report.contenders]
    if plot_losses(curves, out_dir / LOSSES_NAME,
                   title=f"training curves on {report.dataset}") is not None:
        report.files[LOSSES_NAME] = str(out_dir / LOSSES_NAME)
    else:
        report.notes.append("No loss overlay: none of the versions has a metrics log.")
    report.files["report.md"] = str(out_dir / "report.md")
    report.files["report.json"] = str(out_dir / "report.json")
    (out_dir / "report.md").write_text(markdown(report), encoding="utf-8")
    (out_dir / "report.json").write_text(
        json.dumps(report.to_json(), indent=2, sort_keys=True, default=str) + "\n",
        encoding="utf-8")
    return out_dir

