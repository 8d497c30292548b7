"""The report model of a comparison: its columns, its contenders, ranking and notes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganzoo import __version__
from ganzoo.catalog import Catalog
from ganzoo.compare.budget import Budget, budget_of, unequal_budgets
from ganzoo.data.spec import BUNDLED_PREFIX
from ganzoo.errors import GanzooError
from ganzoo.evaluation import Evaluation
from ganzoo.metrics.protocol import differences
from ganzoo.store import VersionRecord

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


def _count(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    return f"{v / 1e3:.1f}k" if v >= 1e4 else f"{v:,.0f}"


def _duration(v: float) -> str:
    return f"{v / 60:.1f} min" if v >= 120 else f"{v:.0f} s"


COLUMNS = (
    Column("params", "params (G+D)", None, _millions, metric=False),
    Column("images_seen", "images seen", None, _count, metric=False),
    Column("images_per_s", "img/s", "high", lambda v: f"{v:,.0f}", metric=False),
    Column("wall_time_s", "wall", "low", _duration, metric=False),
    Column("fid", "FID ↓", "low", lambda v: f"{v:.2f}"),
    Column("kid", "KID×10³ ↓", "low", lambda v: f"{v * 1e3:.2f}"),
    Column("precision", "precision ↑", "high", lambda v: f"{v:.3f}"),
    Column("recall", "recall ↑", "high", lambda v: f"{v:.3f}"),
    Column("density", "density ↑", "high", lambda v: f"{v:.3f}"),
    Column("knn_coverage", "k-NN cov. ↑", "high", lambda v: f"{v:.3f}"),
    Column("is", "IS-like ↑", "high", lambda v: f"{v:.2f}"),
    Column("coverage", "classes ↑", "high", lambda v: f"{v:.0%}"),
)


@dataclass
class Contender:
    """One version in a comparison, with its evaluation (None when it has none)."""

    record: VersionRecord
    params: dict[str, int]
    evaluation: Evaluation | None
    trained_now: bool = False
    best: list[str] = field(default_factory=list)
    budget: Budget | None = None

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = budget_of(self.record)

    def values(self) -> dict[str, float | None]:
        results = self.evaluation.results if self.evaluation else {}
        r = self.record
        out: dict[str, float | None] = {
            "params": float(sum(self.params.values())) if self.params else None,
            "images_seen": (float(self.budget.images_seen)
                            if self.budget and self.budget.images_seen is not None else None),
            "images_per_s": r.images_per_s,
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
    equal_budgets: bool = True
    split: str | None = None  # the training split asked for (--split), None: not asked

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
            "equal_budgets": self.equal_budgets,
            "split": self.split,
            "protocol": self.protocol,
            "floor": self.floor,
            "notes": self.notes,
            "files": self.files,
            "models": [{
                "ref": c.record.ref, "model_id": c.record.model_id, "family": c.record.family,
                "backend": c.record.backend, "recipe": c.record.recipe,
                "status": c.record.status, "dataset": c.record.dataset,
                "split": c.record.split, "epochs": c.record.epochs, "steps": c.record.steps,
                "budget": c.budget.to_dict() if c.budget else None,
                "images_per_s": c.record.images_per_s, "wall_time_s": c.record.wall_time_s,
                "params": c.params, "trained_now": c.trained_now,
                "protocol_key": c.evaluation.key if c.evaluation else None,
                "protocol": c.evaluation.protocol if c.evaluation else None,
                "results": c.evaluation.results if c.evaluation else None,
                "best": c.best,
            } for c in self.contenders],
        }


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
                 floor_results: dict[str, Any] | None, *,
                 split: str | None = None) -> CompareReport:
    """Assemble contenders, check their protocols agree, mark the best, collect notes.

    ``split`` is the training split asked for (``--split``); the reference's own split is read
    from the protocol, and said in a note when it is a bundled copy.
    """
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
    unequal = unequal_budgets({c.record.ref: c.budget for c in contenders if c.budget})
    if unequal:
        notes.append(unequal)
    splits = sorted({c.record.split for c in contenders})
    if len(splits) > 1:
        notes.append(f"The versions were trained on different splits ({', '.join(splits)}).")
    for c in contenders:
        if c.record.status != "complete":
            notes.append(f"{c.record.ref} is {c.record.status}, not complete.")
    if protocol is None and comparable and keys:
        protocol = next(c.evaluation.protocol for c in contenders if c.evaluation is not None)
    if floor_results is None and comparable:
        floor_results = next((c.evaluation.results.get("floor") for c in contenders
                              if c.evaluation is not None), None)
    notes += reference_notes(protocol, floor_results, contenders)
    mark_best(contenders, comparable)
    created = dt.datetime.now().isoformat(timespec="seconds")
    return CompareReport(dataset, contenders, protocol, floor_results, comparable, notes, created,
                         equal_budgets=unequal is None, split=split)


def reference_notes(protocol: dict[str, Any] | None, floor_results: dict[str, Any] | None,
                    contenders: list[Contender]) -> list[str]:
    """Where the reference and the floor come from, when that is a copy shipped with ganzoo."""
    real_split = str((protocol or {}).get("real_split") or "")
    if not real_split.startswith(BUNDLED_PREFIX):
        return []
    dataset = (protocol or {}).get("dataset")
    out = [f"The reference ({(protocol or {}).get('real_n', 0):,} images) and the real floor come "
           f"from {dataset}/{real_split}, the copy of the {real_split.removeprefix(BUNDLED_PREFIX)}"
           " split shipped with ganzoo: the same numbers on any machine, offline."
           + (f" Floor: {floor_results['method']}." if floor_results and
              floor_results.get("method") else "")]
    base = real_split.removeprefix(BUNDLED_PREFIX)
    same = [c.record.ref for c in contenders
            if c.record.split.removeprefix(BUNDLED_PREFIX) == base]
    if same:
        out.append(f"{', '.join(same)} trained on the reference images themselves "
                   f"({real_split}): the scores measure how well a model fits them, not how it "
                   "generalises.")
    return out


