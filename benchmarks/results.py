"""The zoo's results table: train every catalogued model for a budget, evaluate, append a row.

    python benchmarks/results.py --data fashion --budget-images 300000 --seeds 0 1 2 \\
        [--models 'dcgan-*'] [--data-dir /path/to/datasets] [-n 10000]

Every model the catalog lists (built-in families and any added since; ``--models`` filters with
a shell pattern) is trained with its card's default recipe on the train split for a budget in
images seen (``epochs`` and a per-epoch step cap are derived from it), once per seed, then
evaluated at ``-n`` generated images against the test split. Each finished cell is appended at
once to ``registry/results/<data>.csv`` (one row per model, recipe, seed, budget and protocol
hash); cells already there are skipped, so the table grows across sessions and machines and a
Ctrl-C keeps every finished cell. ``docs/results.md`` (mean ± std per model, the floor, the
best grid per model under ``docs/images/results/``) is regenerated from the whole CSV.

A script in benchmarks/ rather than a ``ganzoo`` subcommand: it writes into the repository
(registry/results, docs/), which an installed ganzoo has no business doing.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CSV_DIR = ROOT / "registry" / "results"
DOCS = ROOT / "docs" / "results.md"
IMAGES = ROOT / "docs" / "images" / "results"

# The CSV's columns, in order. The first five (plus split) make a cell's key.
COLUMNS = (
    "model", "recipe", "seed", "budget_images", "protocol_hash", "split",
    "family", "backend", "dataset", "epochs", "max_steps", "images_seen",
    "fid", "kid", "precision", "recall", "density", "coverage", "is_like", "class_coverage",
    "floor_fid", "floor_kid", "img_per_s", "train_wall_s", "eval_wall_s", "n", "status",
    "ref", "ganzoo_version", "created",
)
KEY = ("model", "recipe", "seed", "budget_images", "protocol_hash", "split")
METRICS = (("fid", "FID", "{:.2f}"), ("kid", "KID", "{:.4f}"), ("precision", "precision", "{:.3f}"),
           ("recall", "recall", "{:.3f}"), ("density", "density", "{:.3f}"),
           ("coverage", "coverage", "{:.3f}"), ("is_like", "IS-like", "{:.2f}"),
           ("class_coverage", "class cov.", "{:.0%}"))


@dataclass(frozen=True)
class Budget:
    """How a budget in images seen is spent: ``epochs`` of at most ``max_steps`` steps."""

    epochs: int
    max_steps: int | None
    images: int  # what the run will actually see (the budget rounded up to whole batches)


def plan_budget(budget_images: int, train_count: int, batch_size: int,
                batches_per_step: int = 1) -> Budget:
    """Epochs and a per-epoch step cap that see ``budget_images`` real images (rounded up to
    a step). A step of a recipe with ``d_steps_per_g = k`` draws k batches (one per critic
    update), so WGAN-GP's 5-critic steps spend the budget five times as fast per generator
    update: the budget is data drawn, the same for every family."""
    batch_size *= batches_per_step
    if budget_images < batch_size:
        raise ValueError(f"--budget-images {budget_images} is less than one batch "
                         f"({batch_size} images)")
    full = train_count // batch_size
    if full < 1:
        raise ValueError(f"the train split holds {train_count} images, less than a batch")
    steps = math.ceil(budget_images / batch_size)
    epochs = math.ceil(steps / full)
    per_epoch = math.ceil(steps / epochs)
    max_steps = per_epoch if per_epoch < full else None
    return Budget(epochs, max_steps, epochs * min(per_epoch, full) * batch_size)


def cell_key(row: dict[str, Any]) -> tuple[str, ...]:
    """What identifies a cell: model, recipe, seed, budget, protocol hash and split."""
    return tuple(str(row[k]) for k in KEY)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The CSV's rows (empty when the file does not exist yet)."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one finished cell, flushed to disk (the header first in a new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="raise")
        if new:
            writer.writeheader()
        writer.writerow({k: _cell_text(row.get(k, "")) for k in COLUMNS})
        handle.flush()
        os.fsync(handle.fileno())


def _cell_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def metrics_row(results: dict[str, Any]) -> dict[str, Any]:
    """The CSV's metric columns from an evaluation's results (and its floor)."""
    floor = results.get("floor") or {}
    return {"fid": results["fid"], "kid": results["kid"], "precision": results["precision"],
            "recall": results["recall"], "density": results["density"],
            "coverage": results["knn_coverage"], "is_like": results["is"],
            "class_coverage": results["coverage"], "floor_fid": floor.get("fid"),
            "floor_kid": floor.get("kid")}


# -- running ------------------------------------------------------------------------------------


@dataclass
class Options:
    data: str = "fashion"
    split: str = "train"
    budget_images: int = 60_000
    seeds: tuple[int, ...] = (0, 1, 2)
    models: str = "*"
    n: int = 10_000
    data_dir: str | None = None
    csv_path: Path = CSV_DIR / "fashion.csv"
    docs_path: Path = DOCS
    images_dir: Path = IMAGES
    progress: bool = True
    adopt: bool = False


def check_train_split(catalog: Any, data: str, split: str, data_dir: str | None) -> int:
    """The number of images in the train split; a clear error when it is not on this machine."""
    from ganzoo.data.places import DATA_ENV, resolve
    from ganzoo.errors import UsageError

    spec = catalog.dataset(data)
    split_spec = spec.split(split)
    if not split_spec.bundled and resolve(spec, split_spec, data_dir).found is None:
        where = f" (looked in --data-dir {data_dir})" if data_dir else ""
        raise UsageError(
            f"the {data} '{split}' split is not on this machine{where}: pass --data-dir DIR "
            f"(a folder holding {spec.folder}/{split_spec.images.gz_name}) or set {DATA_ENV}; "
            f"'ganzoo datasets' shows where ganzoo looks")
    return int(split_spec.count)


def select_models(catalog: Any, pattern: str) -> list[Any]:
    """Every catalogued model matching ``pattern`` whose backend is installed."""
    from ganzoo.errors import UsageError

    specs = [m for m in catalog.list_models(pattern) if m.installed]
    if not specs:
        raise UsageError(f"no installed model matches --models {pattern!r}; "
                         "'ganzoo list' shows the catalog")
    return specs


TrainFn = Callable[..., Any]


def find_version(store: Any, config: Any, steps: int) -> Any | None:
    """The newest complete version in ``store`` trained exactly as ``config`` asks for
    ``steps`` steps in all (model, recipe, data, split, seed, epochs), or None: ``--adopt``
    counts a run made with the same command elsewhere (or resumed to the budget) instead of
    training it again."""
    for record in reversed(store.list(config.model_id, config.dataset)):
        if (record.status == "complete" and record.recipe == config.recipe
                and record.split == config.split and record.seed == config.seed
                and record.epochs == config.epochs and record.steps == steps):
            return record
    return None


def run_table(catalog: Any, store: Any, options: Options, *, evaluator: Any | None = None,
              train_fn: TrainFn | None = None, console: Any | None = None) -> list[dict[str, Any]]:
    """Train and evaluate every missing cell; returns the rows written in this call.

    ``evaluator`` (an :class:`ganzoo.evaluation.Evaluator`) and ``train_fn`` (the training
    shell's ``train``) are the project's own; tests may pass their own.
    """
    from rich.console import Console

    from ganzoo import __version__
    from ganzoo.evaluation import Evaluator
    from ganzoo.metrics.reference import reference_split_for
    from ganzoo.training.config import build_config
    from ganzoo.training.loop import train as shell_train

    console = console or Console(stderr=True)
    train_fn = train_fn or shell_train
    train_count = check_train_split(catalog, options.data, options.split, options.data_dir)
    specs = select_models(catalog, options.models)
    if evaluator is None:
        with console.status(f"Preparing the {options.data} reference ({options.n:,} images)"):
            evaluator = Evaluator(catalog, options.data, options.n, 0, data_dir=options.data_dir,
                                  real_split=reference_split_for(options.split))
    protocol_hash = _protocol_hash(evaluator)
    done = {cell_key(r) for r in read_rows(options.csv_path)}
    todo = []
    for spec in specs:
        recipe = spec.card.recipe(None)
        for seed in options.seeds:
            key = {"model": spec.model_id, "recipe": recipe.name, "seed": seed,
                   "budget_images": options.budget_images, "protocol_hash": protocol_hash,
                   "split": options.split}
            if cell_key(key) in done:
                console.print(f"skip {spec.model_id} ({recipe.name}) seed {seed}: in "
                              f"{options.csv_path.name}", highlight=False)
                continue
            todo.append((spec, recipe, seed, key))
    written: list[dict[str, Any]] = []
    started = time.perf_counter()
    for i, (spec, recipe, seed, key) in enumerate(todo, 1):
        per_step = recipe.d_steps_per_g
        budget = plan_budget(options.budget_images, train_count, recipe.batch_size, per_step)
        eta = ""
        if written:
            per_cell = (time.perf_counter() - started) / len(written)
            eta = f", about {per_cell * (len(todo) - i + 1) / 60:.0f} min left"
        console.rule(f"[{i}/{len(todo)}] {spec.model_id} ({recipe.name}) seed {seed}: "
                     f"{budget.images:,} images ({budget.epochs} epochs"
                     f"{f' of {budget.max_steps} steps' if budget.max_steps else ''}){eta}")
        config = build_config(spec, data=options.data, split=options.split,
                              epochs=budget.epochs, seed=seed, max_steps=budget.max_steps)
        record = None
        if options.adopt:
            record = find_version(store, config, budget.images // (recipe.batch_size * per_step))
            if record is not None:
                console.print(f"adopting {record.ref} (trained to this budget already)",
                              highlight=False)
        if record is None:
            record = train_fn(catalog, config, store, data_dir=options.data_dir,
                              console=console, show_progress=options.progress)
        if record is None or record.status != "complete":
            status = getattr(record, "status", "missing")
            console.print(f"[yellow]{spec.model_id} seed {seed} ended {status}: no row "
                          "written[/]")
            if status == "interrupted":
                break
            continue
        t0 = time.perf_counter()
        with console.status(f"Evaluating {record.ref} at n={options.n:,}"):
            evaluation = evaluator.evaluate(record)
        store.add_evaluation(record.ref, evaluation.protocol, evaluation.results)
        row = {**key, "family": spec.family, "backend": spec.backend, "dataset": options.data,
               "epochs": budget.epochs, "max_steps": budget.max_steps or "",
               "images_seen": record.steps * recipe.batch_size * per_step,
               **metrics_row(evaluation.results), "img_per_s": record.images_per_s,
               "train_wall_s": record.wall_time_s, "eval_wall_s": time.perf_counter() - t0,
               "n": options.n, "status": record.status, "ref": record.ref,
               "ganzoo_version": __version__,
               "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        append_row(options.csv_path, row)
        written.append(row)
        keep_best_grid(options.csv_path, row, record.path / "samples.png", options.images_dir)
        console.print(f"{spec.model_id} seed {seed}: FID {row['fid']:.2f}, class coverage "
                      f"{row['class_coverage']:.0%}", highlight=False)
        write_docs(options)
    write_docs(options)
    return written


def _protocol_hash(evaluator: Any) -> str:
    from ganzoo.metrics.protocol import protocol_key

    return protocol_key(evaluator.protocol)


def grid_path(images_dir: Path, model: str) -> Path:
    return images_dir / f"{model}.png"


def keep_best_grid(csv_path: Path, row: dict[str, Any], samples: Path, images_dir: Path) -> None:
    """Copy the run's fixed-noise grid when it is the model's best FID under this protocol."""
    others = [r for r in read_rows(csv_path) if r["model"] == row["model"]
              and r["protocol_hash"] == row["protocol_hash"] and r["fid"]
              and cell_key(r) != cell_key(row)]
    best = min(float(r["fid"]) for r in others) if others else math.inf
    # compared as written in the CSV (6 significant digits), the row itself excluded
    if samples.exists() and float(_cell_text(float(row["fid"]))) <= best:
        images_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(samples, grid_path(images_dir, row["model"]))


# -- the markdown -----------------------------------------------------------------------------


def mean_std(values: Sequence[float], fmt: str) -> str:
    """``mean ± std`` (sample std over seeds; one value: just the value)."""
    if not values:
        return "–"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values))}"


def render_markdown(rows: Iterable[dict[str, str]], images_dir: Path, docs_path: Path) -> str:
    """docs/results.md: one table per protocol and budget, mean ± std over seeds per model."""
    groups: dict[tuple[str, str, str, str], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["split"], row["budget_images"],
                           row["protocol_hash"]), []).append(row)
    lines = ["# Results", "",
             "Generated by `python benchmarks/results.py` from "
             "[registry/results/](../registry/results/) (one row per model, recipe, seed, "
             "budget and protocol): do not edit by hand. Every model trains with its card's "
             "default recipe for the stated budget in images seen (real training images "
             "drawn: a recipe with k critic updates per generator update draws k batches per "
             "step); img/s is those images per second of training; "
             "each seed is evaluated at "
             "n generated images against the test split with the domain classifier's "
             "features (docs/metrics.md). Values are mean ± sample std over seeds; the floor "
             "is real test images measured the same way (the best a generator can score).", ""]
    if not groups:
        lines.append("No results yet.")
    for (dataset, split, budget, phash), members in sorted(
            groups.items(), key=lambda kv: (kv[0][0], -int(kv[0][2]), kv[0][3])):
        first = members[0]
        lines += [f"## {dataset}/{split}, {int(budget):,} images seen "
                  f"(protocol {phash}, n={int(first['n']):,})", ""]
        floor_fid = [float(r["floor_fid"]) for r in members if r.get("floor_fid")]
        if floor_fid:
            floor_kid = [float(r["floor_kid"]) for r in members if r.get("floor_kid")]
            lines += [f"Floor (real vs real): FID {floor_fid[0]:.2f}"
                      + (f", KID {floor_kid[0]:.4f}" if floor_kid else "") + ".", ""]
        by_model: dict[tuple[str, str], list[dict[str, str]]] = {}
        for row in members:
            by_model.setdefault((row["model"], row["recipe"]), []).append(row)
        header = ["model", "recipe", "seeds", *(label for _, label, _ in METRICS), "img/s",
                  "train min"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        ranked = sorted(by_model.items(),
                        key=lambda kv: statistics.mean(float(r["fid"]) for r in kv[1]))
        for (model, recipe), runs in ranked:
            cells = [model, recipe, str(len(runs))]
            for column, _, fmt in METRICS:
                values = [float(r[column]) for r in runs if r.get(column) not in (None, "")]
                cells.append(mean_std(values, fmt))
            cells.append(f"{statistics.mean(float(r['img_per_s']) for r in runs):,.0f}")
            cells.append(f"{statistics.mean(float(r['train_wall_s']) for r in runs) / 60:.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    shown = sorted({r["model"] for r in [*(m for g in groups.values() for m in g)]})
    grids = [m for m in shown if grid_path(images_dir, m).exists()]
    if grids:
        lines += ["## Best grid per model", "",
                  "The fixed-noise grid of each model's best-FID run.", ""]
        for model in grids:
            rel = os.path.relpath(grid_path(images_dir, model), docs_path.parent)
            lines += [f"**{model}**", "", f"![{model}]({rel})", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_docs(options: Options) -> None:
    """Regenerate the markdown from the whole CSV."""
    text = render_markdown(read_rows(options.csv_path), options.images_dir, options.docs_path)
    options.docs_path.parent.mkdir(parents=True, exist_ok=True)
    options.docs_path.write_text(text, encoding="utf-8")


# -- the command --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="fashion", help="dataset (default fashion)")
    p.add_argument("--split", default="train", help="training split (default train)")
    p.add_argument("--budget-images", type=int, required=True,
                   help="images seen per run (60000 = one epoch of Fashion-MNIST)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--models", default="*", help="shell pattern over model ids (default all)")
    p.add_argument("-n", type=int, default=10_000, help="generated images per evaluation")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset "
                   "(default: $GANZOO_DATA, the cache, well-known places)")
    p.add_argument("--csv", type=Path, default=None,
                   help="results CSV (default registry/results/<data>.csv)")
    p.add_argument("--docs", type=Path, default=DOCS)
    p.add_argument("--images", type=Path, default=IMAGES)
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for the framework (default: its own); 1 is much faster "
                        "on a machine shared with other jobs")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--adopt", action="store_true",
                   help="count a complete version in the store trained exactly to a cell's "
                        "budget (same model, recipe, data, split, seed, epochs, steps) instead "
                        "of training it again")
    p.add_argument("--render-only", action="store_true",
                   help="only regenerate docs/results.md from the CSV")
    a = p.parse_args(argv)
    options = Options(data=a.data, split=a.split, budget_images=a.budget_images,
                      seeds=tuple(a.seeds), models=a.models, n=a.n, data_dir=a.data_dir,
                      csv_path=a.csv or CSV_DIR / f"{a.data}.csv", docs_path=a.docs,
                      images_dir=a.images, progress=not a.no_progress, adopt=a.adopt)
    options.render_only = a.render_only  # type: ignore[attr-defined]
    options.threads = a.threads  # type: ignore[attr-defined]
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    threads = getattr(options, "threads", None)
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
            os.environ[name] = str(threads)
    import torch  # before TensorFlow, whose import first crashes torch's

    if threads:
        torch.set_num_threads(threads)

    from ganzoo.cli.console import load_catalog
    from ganzoo.errors import GanzooError
    from ganzoo.store import RunStore

    if getattr(options, "render_only", False):
        write_docs(options)
        return 0
    try:
        written = run_table(load_catalog(), RunStore(), options)
    except (GanzooError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        write_docs(options)
        print("interrupted: finished cells are in the CSV", file=sys.stderr)
        return 130
    print(f"{len(written)} new cell(s) in {options.csv_path}; {options.docs_path} regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
