"""``ganzoo.evaluate`` and ``ganzoo.compare``: results with the fields of the CLI's ``--json``.

The field names and meanings are docs/cli-json.md's (``ganzoo eval --json`` and
``ganzoo compare --json``); ``to_json()`` gives exactly that dictionary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from ganzoo.compare import CompareReport


@dataclass(frozen=True)
class EvalResult:
    """One evaluation of a version (``ganzoo eval --json``): ``results["fid"]`` and so on."""

    ref: str
    model_id: str
    dataset: str
    real_split: str
    protocol: dict[str, Any]
    protocol_key: str
    results: dict[str, Any]

    def __getitem__(self, metric: str) -> Any:
        """``result["fid"]``: a metric of ``results``."""
        return self.results[metric]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CompareResult:
    """A comparison (``ganzoo compare --json``); ``models`` is ranked as the table is."""

    dataset: str
    created: str
    ganzoo_version: str
    comparable: bool
    equal_budgets: bool
    split: str | None
    protocol: dict[str, Any] | None
    floor: dict[str, Any] | None
    notes: list[str]
    files: dict[str, str]
    models: list[dict[str, Any]]
    report: CompareReport | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_report(cls, report: CompareReport) -> CompareResult:
        data = report.to_json()  # tests/test_python_api.py keeps the two in step
        return cls(**{f.name: data.get(f.name) for f in fields(cls) if f.name != "report"},
                   report=report)

    @property
    def best(self) -> dict[str, Any] | None:
        """The first-ranked model, or None when nothing was measured."""
        return self.models[0] if self.models and self.models[0].get("results") else None

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "report"}


def evaluate(ref: str, data: str | None = None, *, n: int = 10_000, seed: int = 0,
             split: str | None = None, data_dir: str | Path | None = None,
             console: Console | None = None) -> EvalResult:
    """Measure a version (FID, KID, precision, recall, IS-like, class coverage) and store it.

    As ``ganzoo eval``: ``data`` defaults to the version's dataset, ``split`` to its training
    split (a bundled split is measured against the bundled test copy, offline). The result is
    stored on the version, as the CLI stores it.
    """
    from rich.console import Console

    from ganzoo.api.listing import catalog as get_catalog
    from ganzoo.evaluation import Evaluator
    from ganzoo.metrics.reference import reference_split_for
    from ganzoo.store import RunStore

    catalog = get_catalog()
    store = RunStore()
    record = store.resolve(ref)
    dataset = data or record.dataset
    if split is not None:
        catalog.dataset(dataset).split(split)  # an unknown split names the others
    real_split = reference_split_for(split if split is not None else record.split)
    out = console or Console(stderr=True)
    with out.status(f"Evaluating {record.ref} on {dataset}/{real_split}: {n:,} images..."):
        evaluator = Evaluator(catalog, dataset, n, seed, data_dir=data_dir,
                              real_split=real_split)
        result = evaluator.evaluate(record)
    store.add_evaluation(record.ref, result.protocol, result.results)
    return EvalResult(ref=record.ref, model_id=record.model_id, dataset=dataset,
                      real_split=real_split, protocol=result.protocol,
                      protocol_key=result.key, results=result.results)


def compare(refs: list[str] | str, data: str = "fashion", *, n: int = 10_000, seed: int = 0,
            train_missing: bool = False, epochs: int | None = None,
            output: str | Path | None = None, data_dir: str | Path | None = None,
            fresh: bool = False, stored: bool = False, split: str | None = None,
            max_steps: int | None = None, progress: bool = True,
            console: Console | None = None) -> CompareResult:
    """Compare models side by side, as ``ganzoo compare``: pick (or train) versions, evaluate
    them under one protocol, write the report folder (``output``, default
    ``compare-<timestamp>/``) and return its ``report.json`` as a :class:`CompareResult`."""
    from ganzoo.api.listing import catalog as get_catalog
    from ganzoo.compare import run_compare

    catalog = get_catalog()
    refs = [refs] if isinstance(refs, str) else list(refs)
    if split is not None:
        catalog.dataset(data).split(split)
    if max_steps is not None and epochs is None:
        raise UsageError("max_steps is part of the budget: give epochs= with it")
    report = run_compare(catalog, refs, dataset=data, n=n, seed=seed,
                         train_missing=train_missing, epochs=epochs,
                         out_dir=Path(output) if output is not None else None,
                         data_dir=data_dir, fresh=fresh, stored_only=stored, console=console,
                         show_progress=progress, split=split, max_steps=max_steps)
    return CompareResult.from_report(report)
