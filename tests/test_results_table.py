"""benchmarks/results.py: the results table's cells, resume, protocol hash and markdown.

Training is the real shell (ganzoo.training.loop.train) on the numpy backend of fakes.py;
evaluation is the real Evaluator against the bundled test split (n=100), measuring the fake
generator's images.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeDataset, FakeGenerator, FakePlugin
from rich.console import Console

import ganzoo.data
from ganzoo.catalog import Catalog
from ganzoo.errors import UsageError
from ganzoo.evaluation import Evaluation, Evaluator
from ganzoo.metrics.protocol import protocol_key
from ganzoo.store import RunStore
from ganzoo.training.loop import train as shell_train
from ganzoo.weights import read_weights

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "results.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("results_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["results_table"] = module
    spec.loader.exec_module(module)
    return module


results = _load_script()


class FakeModelEvaluator(Evaluator):
    """The real Evaluator, generating with the fake backend's generator (its weights do not
    fit the mlp card, so the card-checked loader cannot build it)."""

    def evaluate(self, record):
        arrays, meta = read_weights(record.path / "weights.safetensors")
        recipe = self.catalog.model(record.model_id).card.recipe(meta["recipe"])
        generator = FakeGenerator(recipe, arrays)
        noise = np.random.default_rng(self.seed).standard_normal(
            (self.n, recipe.latent_dim)).astype(np.float32)
        out = self.measure_images(generator.generate(noise))
        out["floor"] = self.floor
        return Evaluation(record.ref, self.protocol, out)


@pytest.fixture
def catalog(monkeypatch):
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(), raising=False)
    return Catalog.load(entry_points=False, extra=[("fake", FakePlugin())])


@pytest.fixture
def evaluator(catalog, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path_factory.mktemp("cache")))
    return FakeModelEvaluator(catalog, "fashion", 100, 0, real_split="bundled-test")


class CountingTrain:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, catalog, config, store, **kw):
        self.calls.append((config.model_id, config.seed))
        return shell_train(catalog, config, store, **kw)


def _options(tmp_path: Path, **kw):
    base = dict(data="fashion", split="bundled-test", budget_images=64, seeds=(0, 1),
                models="mlp-fake", n=100, csv_path=tmp_path / "results" / "fashion.csv",
                docs_path=tmp_path / "docs" / "results.md",
                images_dir=tmp_path / "docs" / "images" / "results", progress=False)
    base.update(kw)
    return results.Options(**base)


def _quiet() -> Console:
    return Console(file=open(os.devnull, "w"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_rows_have_every_column_and_real_metrics(catalog, evaluator, tmp_path):
    store = RunStore(tmp_path / "home")
    options = _options(tmp_path)
    written = results.run_table(catalog, store, options, evaluator=evaluator,
                                train_fn=CountingTrain(), console=_quiet())
    rows = _rows(options.csv_path)
    assert len(written) == len(rows) == 2
    assert tuple(rows[0]) == results.COLUMNS
    for row in rows:
        empty = [c for c in results.COLUMNS if row[c] == "" and c != "max_steps"]
        assert not empty, empty
        assert row["model"] == "mlp-fake" and row["recipe"] == "seed002"
        assert int(row["images_seen"]) == 64  # 2 steps of 32: the budget, in images seen
        assert row["max_steps"] == "2"
        assert float(row["fid"]) > float(row["floor_fid"]) >= 0
        assert 0 <= float(row["class_coverage"]) <= 1
        assert row["protocol_hash"] == protocol_key(evaluator.protocol)
    assert {r["seed"] for r in rows} == {"0", "1"}
    # the two seeds trained different generators: different numbers
    assert rows[0]["fid"] != rows[1]["fid"]
    # stored on the versions too, as 'ganzoo eval' stores them
    assert all(store.resolve(r["ref"]).evaluations for r in rows)


def test_resume_skips_finished_cells(catalog, evaluator, tmp_path):
    store = RunStore(tmp_path / "home")
    first = CountingTrain()
    results.run_table(catalog, store, _options(tmp_path, seeds=(0,)), evaluator=evaluator,
                      train_fn=first, console=_quiet())
    assert first.calls == [("mlp-fake", 0)]
    again = CountingTrain()
    written = results.run_table(catalog, store, _options(tmp_path, seeds=(0, 1, 2)),
                                evaluator=evaluator, train_fn=again, console=_quiet())
    assert again.calls == [("mlp-fake", 1), ("mlp-fake", 2)]  # seed 0 was in the CSV
    assert [r["seed"] for r in written] == [1, 2]
    assert len(_rows(tmp_path / "results" / "fashion.csv")) == 3
    # a new budget is a new cell
    third = CountingTrain()
    results.run_table(catalog, store, _options(tmp_path, seeds=(0,), budget_images=96),
                      evaluator=evaluator, train_fn=third, console=_quiet())
    assert third.calls == [("mlp-fake", 0)]


def test_adopt_counts_a_version_trained_to_the_budget_instead_of_training_again(
        catalog, evaluator, tmp_path):
    store = RunStore(tmp_path / "home")
    trained = CountingTrain()
    results.run_table(catalog, store, _options(tmp_path, csv_path=tmp_path / "a.csv"),
                      evaluator=evaluator, train_fn=trained, console=_quiet())
    assert trained.calls == [("mlp-fake", 0), ("mlp-fake", 1)]
    # Another table (a fresh CSV) adopts both versions; a third seed has none, so it trains,
    # and so does another budget (its step count differs) unless a version matches it.
    again = CountingTrain()
    written = results.run_table(
        catalog, store, _options(tmp_path, csv_path=tmp_path / "b.csv", seeds=(0, 1, 2),
                                 adopt=True), evaluator=evaluator, train_fn=again,
        console=_quiet())
    assert again.calls == [("mlp-fake", 2)]
    assert [r["ref"] for r in written] == ["mlp-fake@1", "mlp-fake@2", "mlp-fake@3"]
    bigger = CountingTrain()
    results.run_table(catalog, store, _options(tmp_path, csv_path=tmp_path / "c.csv",
                                               seeds=(0,), budget_images=96, adopt=True),
                      evaluator=evaluator, train_fn=bigger, console=_quiet())
    assert bigger.calls == [("mlp-fake", 0)]
    # without --adopt, the same cells train
    plain = CountingTrain()
    results.run_table(catalog, store, _options(tmp_path, csv_path=tmp_path / "d.csv",
                                               seeds=(0,)),
                      evaluator=evaluator, train_fn=plain, console=_quiet())
    assert plain.calls == [("mlp-fake", 0)]


def test_a_differing_protocol_hash_makes_a_new_cell(catalog, evaluator, tmp_path):
    store = RunStore(tmp_path / "home")
    options = _options(tmp_path, seeds=(0,))
    results.run_table(catalog, store, options, evaluator=evaluator, train_fn=CountingTrain(),
                      console=_quiet())
    other = FakeModelEvaluator(catalog, "fashion", 120, 0, real_split="bundled-test")
    counting = CountingTrain()
    results.run_table(catalog, store, _options(tmp_path, seeds=(0,), n=120), evaluator=other,
                      train_fn=counting, console=_quiet())
    assert counting.calls == [("mlp-fake", 0)]
    hashes = [r["protocol_hash"] for r in _rows(options.csv_path)]
    assert len(hashes) == 2 and hashes[0] != hashes[1]


def test_markdown_has_mean_and_std_floor_and_grid(catalog, evaluator, tmp_path):
    store = RunStore(tmp_path / "home")
    options = _options(tmp_path, seeds=(0, 1))
    results.run_table(catalog, store, options, evaluator=evaluator, train_fn=CountingTrain(),
                      console=_quiet())
    rows = _rows(options.csv_path)
    text = options.docs_path.read_text(encoding="utf-8")
    fids = [float(r["fid"]) for r in rows]
    mean, std = np.mean(fids), np.std(fids, ddof=1)
    assert f"{mean:.2f} ± {std:.2f}" in text
    assert f"Floor (real vs real): FID {float(rows[0]['floor_fid']):.2f}" in text
    assert re.search(r"\| mlp-fake \| seed002 \| 2 \|", text)
    assert "64 images seen" in text
    grid = options.images_dir / "mlp-fake.png"
    best = min(rows, key=lambda r: float(r["fid"]))
    assert grid.read_bytes() == (store.resolve(best["ref"]).path / "samples.png").read_bytes()
    assert "](images/results/mlp-fake.png)" in text


def test_an_interrupted_run_writes_no_row_and_stops(catalog, evaluator, tmp_path):
    store = RunStore(tmp_path / "home")

    class Interrupted:
        status = "interrupted"

    calls = []

    def stop(catalog, config, store, **kw):
        calls.append(config.seed)
        return Interrupted()

    written = results.run_table(catalog, store, _options(tmp_path, seeds=(0, 1)),
                                evaluator=evaluator, train_fn=stop, console=_quiet())
    assert written == [] and calls == [0]
    assert not (tmp_path / "results" / "fashion.csv").exists()


def test_plan_budget_sees_the_budget():
    assert results.plan_budget(60_000, 60_000, 32) == results.Budget(1, None, 60_000)
    assert results.plan_budget(60_000, 60_000, 128) == results.Budget(2, 235, 60_160)
    assert results.plan_budget(300_000, 60_000, 32).epochs == 5
    assert results.plan_budget(64, 10_000, 32) == results.Budget(1, 2, 64)
    # WGAN-GP: 5 critic batches of 50 per step, so an epoch of 60k images is 240 steps.
    assert results.plan_budget(600_000, 60_000, 50, 5) == results.Budget(10, None, 600_000)
    assert results.plan_budget(60_000, 60_000, 50, 5) == results.Budget(1, None, 60_000)
    assert results.plan_budget(30_000, 60_000, 50, 5) == results.Budget(1, 120, 30_000)
    with pytest.raises(ValueError):
        results.plan_budget(10, 10_000, 32)


def test_missing_train_split_names_data_dir(catalog, tmp_path, monkeypatch):
    import ganzoo.data.places as places

    class Nowhere:
        found = None

    monkeypatch.setattr(places, "resolve", lambda *a, **k: Nowhere())
    with pytest.raises(UsageError, match="--data-dir") as caught:
        results.check_train_split(catalog, "fashion", "train", str(tmp_path))
    assert "GANZOO_DATA" in str(caught.value)
    assert results.check_train_split(catalog, "fashion", "bundled-test", None) == 10_000
