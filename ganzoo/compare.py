"""``ganzoo compare``: which model is better, and at what cost, with numbers and pictures.

Picks each model's version on a dataset (training the missing ones with one budget when asked),
evaluates them under one protocol (reusing stored evaluations of the same protocol), and writes a
report folder: report.md, report.json, samples.png (grids side by side, same noise where the
latent spaces match) and losses.png (the training curves overlaid).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ganzoo import __version__
from ganzoo.cards import Recipe
from ganzoo.catalog import Catalog, ModelSpec
from ganzoo.errors import GanzooError, RegistryError, UsageError
from ganzoo.evaluation import (
    Evaluation,
    Evaluator,
    find_stored,
    generate,
    latest_stored,
    load_generator,
)
from ganzoo.images import make_grid
from ganzoo.metrics.protocol import describe, differences
from ganzoo.store import RunStore, VersionRecord, parse_ref
from ganzoo.training.metrics_log import METRICS_NAME
from ganzoo.training.plots import plot_losses

SAMPLES_NAME = "samples.png"
LOSSES_NAME = "losses.png"
GRID_IMAGES = 64
BEST = "★"


@dataclass(frozen=True)
class Column:
    """A table column: where its value comes from, how it prints, which way is better."""

    key: str
    title: str
    better: str | None  # "high", "low" or None (not ranked)
    fmt: Callable[[float], str]
    metric: bool = True  # a metric (ranked only under one protocol) or a cost


def _millions(v: float) -> str:
    return f"{v / 1e6:.2f}M" if v >= 1e5 else f"{v / 1e3:.0f}k"


def _duration(v: float) -> str:
    return f"{v / 60:.1f} min" if v >= 120 else f"{v:.0f} s"


COLUMNS = (
    Column("params", "params (G+D)", None, _millions, metric=False),
    Column("epochs", "epochs", None, lambda v: f"{v:g}", metric=False),
    Column("images_per_s", "img/s", "high", lambda v: f"{v:,.0f}", metric=False),
    Column("wall_time_s", "wall", "low", _duration, metric=False),
    Column("fid", "FID ↓", "low", lambda v: f"{v:.2f}"),
    Column("kid", "KID×10³ ↓", "low", lambda v: f"{v * 1e3:.2f}"),
    Column("precision", "precision ↑", "high", lambda v: f"{v:.3f}"),
    Column("recall", "recall ↑", "high", lambda v: f"{v:.3f}"),
    Column("is", "IS-like ↑", "high", lambda v: f"{v:.2f}"),
    Column("coverage", "coverage ↑", "high", lambda v: f"{v:.0%}"),
)


@dataclass
class Contender:
    """One version in a comparison, with its evaluation (None when it has none)."""

    record: VersionRecord
    params: dict[str, int]
    evaluation: Evaluation | None
    trained_now: bool = False
    best: list[str] = field(default_factory=list)

    def values(self) -> dict[str, float | None]:
        results = self.evaluation.results if self.evaluation else {}
        r = self.record
        out: dict[str, float | None] = {
            "params": float(sum(self.params.values())) if self.params else None,
            "epochs": float(r.epochs), "images_per_s": r.images_per_s,
            "wall_time_s": r.wall_time_s,
        }
        for col in COLUMNS:
            if col.metric:
                out[col.key] = results.get(col.key)
        return out


@dataclass
class CompareReport:
    """Everything a comparison found; rendered as a rich table, markdown and JSON."""

    dataset: str
    contenders: list[Contender]
    protocol: dict[str, Any] | None
    floor: dict[str, Any] | None
    comparable: bool
    notes: list[str]
    created: str
    files: dict[str, str] = field(default_factory=dict)

    def protocol_labels(self) -> dict[str, str]:
        """A letter per distinct protocol, in order of appearance."""
        labels: dict[str, str] = {}
        for c in self.contenders:
            if c.evaluation is not None and c.evaluation.key not in labels:
                labels[c.evaluation.key] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[len(labels) % 26]
        return labels

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "created": self.created,
            "ganzoo_version": __version__,
            "comparable": self.comparable,
            "protocol": self.protocol,
            "floor": self.floor,
            "notes": self.notes,
            "files": self.files,
            "models": [{
                "ref": c.record.ref, "model_id": c.record.model_id, "family": c.record.family,
                "backend": c.record.backend, "recipe": c.record.recipe,
                "status": c.record.status, "dataset": c.record.dataset,
                "epochs": c.record.epochs, "steps": c.record.steps,
                "images_per_s": c.record.images_per_s, "wall_time_s": c.record.wall_time_s,
                "params": c.params, "trained_now": c.trained_now,
                "protocol_key": c.evaluation.key if c.evaluation else None,
                "protocol": c.evaluation.protocol if c.evaluation else None,
                "results": c.evaluation.results if c.evaluation else None,
                "best": c.best,
            } for c in self.contenders],
        }


# -- choosing and training versions -------------------------------------------------------


def pick_recipe(spec: ModelSpec, dataset: str) -> Recipe:
    """The card's default recipe when it is for ``dataset``, else its first recipe that is."""
    default = spec.card.recipe()
    if default.dataset == dataset:
        return default
    for recipe in spec.card.recipes.values():
        if recipe.dataset == dataset:
            return recipe
    return default  # trained on ``dataset`` anyway, as 'ganzoo train --data' would


def choose_version(store: RunStore, model_id: str, dataset: str,
                   epochs: int | None) -> VersionRecord | None:
    """The latest complete version on ``dataset`` (with ``epochs`` when given), else the latest."""
    versions = [v for v in store.list(model_id, dataset)
                if epochs is None or v.epochs == epochs]
    complete = [v for v in versions if v.status == "complete"]
    chosen = complete or versions
    return chosen[-1] if chosen else None


def resolve_versions(catalog: Catalog, store: RunStore, refs: list[str], dataset: str, *,
                     train_missing: bool = False, epochs: int | None = None, seed: int = 0,
                     data_dir: str | Path | None = None, console: Console | None = None,
                     show_progress: bool = True) -> list[tuple[VersionRecord, bool]]:
    """(version, trained now) for each reference, training missing ones when asked."""
    if train_missing and epochs is None:
        raise UsageError("--train-missing needs --epochs N, so that every model gets the "
                         "same budget")
    console = console or Console()
    out: list[tuple[VersionRecord, bool]] = []
    for text in refs:
        ref = parse_ref(text)
        spec = catalog.model(ref.model_id)
        if ref.version is not None:
            record = store.resolve(ref)
            if record.dataset != dataset:
                raise UsageError(f"{record.ref} was trained on {record.dataset}, not {dataset}; "
                                 f"pass --data {record.dataset} or another version")
            out.append((record, False))
            continue
        found = choose_version(store, spec.model_id, dataset, epochs)
        if found is not None:
            out.append((found, False))
            continue
        budget = f" with {epochs} epochs" if epochs is not None else ""
        if not train_missing:
            raise RegistryError(
                f"No trained version of {spec.model_id} on {dataset}{budget}. Train one with "
                f"'ganzoo train {spec.model_id} --data {dataset}', or pass --train-missing "
                "--epochs N to train every missing model with the same budget.")
        out.append((train_for_comparison(catalog, store, spec, dataset, int(epochs or 1), seed,
                                         data_dir, console, show_progress), True))
    seen = [r.ref for r, _ in out]
    if len(set(seen)) != len(seen):
        raise UsageError(f"the same version is named twice: {', '.join(seen)}")
    return out


def train_for_comparison(catalog: Catalog, store: RunStore, spec: ModelSpec, dataset: str,
                         epochs: int, seed: int, data_dir: str | Path | None, console: Console,
                         show_progress: bool) -> VersionRecord:
    """Train ``spec`` on ``dataset`` for ``epochs`` with its recipe's batch size."""
    from ganzoo.protocols import TrainConfig
    from ganzoo.training.loop import train

    recipe = pick_recipe(spec, dataset)
    config = TrainConfig(model_id=spec.model_id, recipe=recipe.name, dataset=dataset,
                         split="train", epochs=epochs, batch_size=recipe.batch_size, seed=seed)
    console.rule(f"training {spec.model_id} ({recipe.name}): {epochs} epoch"
                 f"{'s' if epochs != 1 else ''} on {dataset}")
    return train(catalog, config, store, data_dir=data_dir, console=console,
                 show_progress=show_progress)


# -- evaluating and ranking -----------------------------------------------------------------


def parameter_counts(catalog: Catalog, record: VersionRecord) -> dict[str, int]:
    """Generator and discriminator parameters of the version's recipe (from its card)."""
    try:
        spec = catalog.model(record.model_id)
        counts = spec.card.recipe(record.recipe).parameter_counts()
    except GanzooError:
        return {}
    return {"generator": counts["generator_trainable"] + counts["generator_non_trainable"],
            "discriminator": counts["discriminator_trainable"]
            + counts["discriminator_non_trainable"]}


def mark_best(contenders: list[Contender], comparable: bool) -> None:
    """Fill each contender's ``best`` with the columns it leads.

    Values are compared as printed: rows that print the same as the best share the mark, and a
    column where every row prints the same (recall 0.000 for all) marks nobody.
    """
    if len(contenders) < 2:
        return
    values = [c.values() for c in contenders]
    for col in COLUMNS:
        if col.better is None or (col.metric and not comparable):
            continue
        shown = {i: col.fmt(v[col.key]) for i, v in enumerate(values) if v[col.key] is not None}
        if len(shown) < 2:
            continue
        pick = max if col.better == "high" else min
        top = col.fmt(pick(v[col.key] for v in values if v[col.key] is not None))
        if all(text == top for text in shown.values()):
            continue
        for i, text in shown.items():
            if text == top:
                contenders[i].best.append(col.key)


def build_report(catalog: Catalog, dataset: str, chosen: list[tuple[VersionRecord, bool]],
                 evaluations: list[Evaluation | None], protocol: dict[str, Any] | None,
                 floor_results: dict[str, Any] | None) -> CompareReport:
    """Assemble contenders, check their protocols agree, mark the best, collect notes."""
    contenders = [Contender(record, parameter_counts(catalog, record), ev, trained)
                  for (record, trained), ev in zip(chosen, evaluations, strict=True)]
    keys = {c.evaluation.key for c in contenders if c.evaluation is not None}
    comparable = len(keys) <= 1
    notes: list[str] = []
    if not comparable:
        first = next(c.evaluation for c in contenders if c.evaluation is not None)
        for c in contenders:
            if c.evaluation is not None and c.evaluation.key != first.key:
                diff = "; ".join(differences(first.protocol, c.evaluation.protocol))
                notes.append(f"{c.record.ref} was measured under another protocol than "
                             f"{first.ref} ({diff}): its metrics are not comparable, so no "
                             "metric column is ranked.")
    missing = [c.record.ref for c in contenders if c.evaluation is None]
    if missing:
        notes.append(f"No stored evaluation for {', '.join(missing)} (run 'ganzoo eval').")
    epochs = sorted({c.record.epochs for c in contenders})
    if len(epochs) > 1:
        notes.append(f"The versions were trained for different numbers of epochs "
                     f"({', '.join(map(str, epochs))}): not the same budget.")
    for c in contenders:
        if c.record.status != "complete":
            notes.append(f"{c.record.ref} is {c.record.status}, not complete.")
    if protocol is None and comparable and keys:
        protocol = next(c.evaluation.protocol for c in contenders if c.evaluation is not None)
    if floor_results is None and comparable:
        floor_results = next((c.evaluation.results.get("floor") for c in contenders
                              if c.evaluation is not None), None)
    mark_best(contenders, comparable)
    created = dt.datetime.now().isoformat(timespec="seconds")
    return CompareReport(dataset, contenders, protocol, floor_results, comparable, notes, created)


def run_compare(catalog: Catalog, refs: list[str], *, dataset: str, n: int, seed: int = 0,
                store: RunStore | None = None, train_missing: bool = False,
                epochs: int | None = None, out_dir: Path | None = None,
                data_dir: str | Path | None = None, fresh: bool = False,
                stored_only: bool = False, console: Console | None = None,
                show_progress: bool = True) -> CompareReport:
    """Choose (or train) the versions, evaluate them, and write the report folder."""
    if not refs:
        raise UsageError("name at least one model to compare")
    store = store or RunStore()
    console = console or Console()
    chosen = resolve_versions(catalog, store, refs, dataset, train_missing=train_missing,
                              epochs=epochs, seed=seed, data_dir=data_dir, console=console,
                              show_progress=show_progress)
    protocol = floor_results = None
    evaluations: list[Evaluation | None] = []
    if stored_only:
        evaluations = [latest_stored(record) for record, _ in chosen]
    else:
        with console.status(f"Preparing the {dataset} reference set and the real floor..."):
            evaluator = Evaluator(catalog, dataset, n, seed, data_dir=data_dir)
            floor_results = evaluator.floor
        protocol = evaluator.protocol
        for record, _ in chosen:
            found = None if fresh else find_stored(record, protocol)
            if found is None:
                with console.status(f"Evaluating {record.ref}: {n:,} images..."):
                    found = evaluator.evaluate(record)
                store.add_evaluation(record.ref, found.protocol, found.results)
            evaluations.append(found)
    report = build_report(catalog, dataset, chosen, evaluations, protocol, floor_results)
    out_dir = Path(out_dir) if out_dir is not None else Path(
        f"compare-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    write_report(report, out_dir, catalog, seed)
    return report


# -- rendering ------------------------------------------------------------------------------


def _cells(report: CompareReport, contender: Contender, mark: Callable[[str], str]) -> list[str]:
    values = contender.values()
    cells = []
    for col in COLUMNS:
        v = values[col.key]
        text = "—" if v is None else col.fmt(v)
        cells.append(mark(text) if col.key in contender.best else text)
    return cells


def _floor_cells(report: CompareReport) -> list[str]:
    f = report.floor or {}
    return ["" if col.metric is False else ("—" if f.get(col.key) is None
                                             else col.fmt(f[col.key]))
            for col in COLUMNS]


def _floor_label(report: CompareReport) -> str:
    f = report.floor or {}
    return f"real floor ({f.get('real_split', '?')} {f.get('real_n', 0):,})"


def rich_table(report: CompareReport) -> Table:
    """The comparison as a rich table, the best of each column marked."""
    labels = report.protocol_labels()
    caption = f"{BEST} best in its column. Real floor: {(report.floor or {}).get('method', '—')}."
    if report.comparable and report.protocol:
        caption += f"\nProtocol: {describe(report.protocol)}."
    elif not report.comparable:
        caption += ("\n[yellow]Rows were measured under different protocols "
                    f"({', '.join(labels.values())}): metric columns are not ranked.[/]")
    table = Table(title=f"ganzoo compare on {report.dataset}", title_justify="left",
                  caption=caption, caption_justify="left")
    table.add_column("model")
    table.add_column("backend")
    for col in COLUMNS:
        table.add_column(col.title, justify="right")
    if not report.comparable:
        table.add_column("protocol")
    for c in report.contenders:
        name = c.record.ref + ("" if c.record.status == "complete" else f" ({c.record.status})")
        row = [name, c.record.backend, *_cells(report, c, lambda t: f"[bold green]{t} {BEST}[/]")]
        if not report.comparable:
            row.append(labels.get(c.evaluation.key, "—") if c.evaluation else "—")
        table.add_row(*row)
    if report.floor and report.comparable:
        table.add_row(_floor_label(report), "", *_floor_cells(report), style="dim")
    return table


def markdown(report: CompareReport) -> str:
    """report.md: the table, the protocol, the floor, the pictures and the notes."""
    heads = ["model", "backend", *[c.title for c in COLUMNS]]
    lines = [f"# ganzoo compare on {report.dataset}", "",
             f"{report.created}, ganzoo {__version__}.", "",
             "| " + " | ".join(heads) + " |",
             "|" + "|".join(["---", "---"] + ["---:"] * len(COLUMNS)) + "|"]
    for c in report.contenders:
        cells = _cells(report, c, lambda t: f"**{t}** {BEST}")
        lines.append(f"| {c.record.ref} | {c.record.backend} | " + " | ".join(cells) + " |")
    if report.floor and report.comparable:
        lines.append(f"| *{_floor_label(report)}* | | " + " | ".join(_floor_cells(report)) + " |")
    lines += ["", f"{BEST} marks the best value of each ranked column. img/s and wall are the "
              "training run's own records (throughput and training time)."]
    lines += ["", "## Protocol", ""]
    if report.comparable and report.protocol:
        lines += [describe(report.protocol) + ".", "", "```json",
                  json.dumps(report.protocol, indent=2, sort_keys=True), "```"]
    else:
        lines.append("The rows were measured under different protocols; see report.json. "
                     "Metric columns are not ranked.")
    if report.floor:
        f = report.floor
        lines += ["", "## Real-vs-real floor", "",
                  f"{f.get('method', '')}: FID {f.get('fid', float('nan')):.2f}, "
                  f"KID×10³ {f.get('kid', float('nan')) * 1e3:.2f}, "
                  f"precision {f.get('precision', float('nan')):.3f}, "
                  f"recall {f.get('recall', float('nan')):.3f}, "
                  f"IS-like {f.get('is', float('nan')):.2f}, "
                  f"coverage {f.get('coverage', float('nan')):.0%}. "
                  "This is what real images score: a model's FID is only meaningful on this "
                  "scale."]
    lines += ["", "## Models", ""]
    for c in report.contenders:
        r = c.record
        lines.append(f"- **{r.ref}** ({r.status}): family {r.family}, backend {r.backend}, "
                     f"recipe {r.recipe}, {r.epochs} epochs / {r.steps:,} steps on "
                     f"{r.dataset}/{r.split}" + (", trained for this comparison"
                                                 if c.trained_now else "")
                     + f"; folder `{r.path}`.")
        if c.evaluation:
            res = c.evaluation.results
            hist = res.get("class_histogram")
            if hist:
                lines.append(f"  predicted classes of its {sum(hist):,} images: {hist} "
                             f"(entropy {res.get('class_entropy', 0):.2f} of 1)")
    if SAMPLES_NAME in report.files:
        lines += ["", "## Samples", "", f"![samples]({SAMPLES_NAME})", "",
                  report.files.get("samples_note", "")]
    if LOSSES_NAME in report.files:
        lines += ["", "## Training curves", "", f"![losses]({LOSSES_NAME})"]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    return "\n".join(lines).rstrip() + "\n"


def side_by_side(panels: list[tuple[str, np.ndarray]], path: Path, scale: int = 2) -> Path:
    """Sample grids (uint8 NHWC batches) side by side, each titled, in one PNG."""
    from PIL import Image, ImageDraw

    pictures = []
    for _, images in panels:
        grid = make_grid(images.astype(np.float32) / 127.5 - 1.0, ncols=8)
        picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).convert("RGB")
        pictures.append(picture.resize((picture.width * scale, picture.height * scale),
                                       Image.NEAREST))
    gap, title = 16, 22
    width = sum(p.width for p in pictures) + gap * (len(pictures) + 1)
    height = max(p.height for p in pictures) + title + gap
    canvas = Image.new("RGB", (width, height), color=(32, 32, 32))
    draw = ImageDraw.Draw(canvas)
    x = gap
    for (label, _), picture in zip(panels, pictures, strict=True):
        canvas.paste(picture, (x, title))
        draw.text((x, 5), label, fill=(235, 235, 235))
        x += picture.width + gap
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def _sample_panels(catalog: Catalog, report: CompareReport,
                   seed: int) -> tuple[list[tuple[str, np.ndarray]], str]:
    panels, noises, failed = [], set(), []
    for c in report.contenders:
        try:
            generator, meta = load_generator(catalog, c.record)
            images = generate(generator, meta, GRID_IMAGES, seed)
        except GanzooError as exc:
            failed.append(f"{c.record.ref} ({exc})")
            continue
        noises.add((meta["noise"], int(meta["latent_dim"])))
        panels.append((f"{c.record.ref}", images))
    if len(noises) == 1:
        kind, dim = next(iter(noises))
        note = (f"Every grid is drawn from the same {GRID_IMAGES} latent vectors "
                f"({kind} noise, {dim} dimensions, seed {seed}).")
    else:
        note = ("The models' latent spaces differ (" + ", ".join(
            f"{k} {d}-d" for k, d in sorted(noises)) + "), so each grid is drawn from its own "
            f"noise with seed {seed}; rows do not correspond.")
    if failed:
        note += " Not drawn: " + "; ".join(failed) + "."
    return panels, note


def write_report(report: CompareReport, out_dir: Path, catalog: Catalog, seed: int = 0) -> Path:
    """Write report.md, report.json, samples.png and losses.png into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    panels, note = _sample_panels(catalog, report, seed)
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

