"""--eval-every: a cheap FID between epochs, the best epoch's weights kept, collapse warned.

The real training shell on the numpy backend of fakes.py, measured by the real evaluator
against the bundled test split (n=100).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fakes import FakeDataset, FakePlugin
from rich.console import Console

import ganzoo.data
import ganzoo.training.epoch_eval as epoch_eval
from ganzoo.catalog import Catalog
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore
from ganzoo.store.layout import BEST_NAME
from ganzoo.training.loop import train
from ganzoo.weights import read_weights


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(), raising=False)
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    catalog = Catalog.load(entry_points=False, extra=[("fake", FakePlugin())])
    return catalog, RunStore(tmp_path / "home")


def _config(**kw) -> TrainConfig:
    base = dict(model_id="mlp-fake", recipe="seed002", dataset="fashion", split="bundled-test",
                epochs=3, batch_size=32, seed=3, log_every=4)
    base.update(kw)
    return TrainConfig(**base)


def _evals(record) -> list[dict]:
    lines = (record.path / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "eval"]


def test_best_epoch_is_kept_beside_the_last(setup):
    catalog, store = setup
    out = io.StringIO()
    record = train(catalog, _config(), store, console=Console(file=out, width=200),
                   show_progress=False, eval_every=1, eval_n=100)
    evals = _evals(record)
    assert [e["epoch"] for e in evals] == [1, 2, 3]
    assert all(e["n"] == 100 and e["fid"] > 0 and e["eval_s"] >= 0 for e in evals)
    best = min(evals, key=lambda e: e["fid"])
    result = json.loads((record.path / "result.json").read_text())
    assert result["best"]["epoch"] == best["epoch"]
    assert result["best"]["fid"] == pytest.approx(best["fid"])
    arrays, meta = read_weights(record.path / BEST_NAME)
    assert meta["epochs"] == best["epoch"] and meta["best_fid"] == pytest.approx(best["fid"])
    # the files carry their budget in generator updates (what an importer reports)
    assert meta["steps"] == record.steps // 3 * best["epoch"]
    assert read_weights(record.path / "weights.safetensors")[1]["steps"] == record.steps > 0
    # the kept weights are that epoch's: a run stopped there trained exactly these
    again = train(catalog, _config(epochs=best["epoch"]), store,
                  console=Console(file=io.StringIO()), show_progress=False)
    there, _ = read_weights(again.path / "weights.safetensors")
    for name, value in there.items():
        np.testing.assert_array_equal(arrays[name], value)
    assert f"eval epoch {best['epoch']}: FID {best['fid']:.2f}" in out.getvalue()


def test_every_n_epochs_and_the_last(setup):
    catalog, store = setup
    record = train(catalog, _config(epochs=5), store, console=Console(file=io.StringIO()),
                   show_progress=False, eval_every=2, eval_n=100)
    assert [e["epoch"] for e in _evals(record)] == [2, 4, 5]


def test_off_by_default(setup):
    catalog, store = setup
    record = train(catalog, _config(epochs=1), store, console=Console(file=io.StringIO()),
                   show_progress=False)
    assert _evals(record) == []
    assert not (record.path / BEST_NAME).exists()
    assert "best" not in json.loads((record.path / "result.json").read_text())


@pytest.mark.parametrize(("threshold", "warned"), [(1.01, True), (0.0, False)])
def test_class_coverage_collapse_is_warned(setup, monkeypatch, threshold, warned):
    catalog, store = setup
    monkeypatch.setattr(epoch_eval, "COVERAGE_WARN", threshold)
    out = io.StringIO()
    train(catalog, _config(epochs=1), store, console=Console(file=out, width=200),
          show_progress=False, eval_every=1, eval_n=100)
    assert ("class coverage collapsed" in out.getvalue()) is warned


def test_eval_every_must_be_positive(setup):
    from ganzoo.errors import UsageError

    catalog, _ = setup
    with pytest.raises(UsageError, match="--eval-every"):
        epoch_eval.EpochEval(catalog, "fashion", "bundled-test", 0)


def test_a_later_worse_epoch_does_not_replace_the_best(setup, monkeypatch):
    """FIDs 9, 4, 7 (measurement stubbed): epoch 2's weights are kept, not the last."""
    catalog, store = setup
    fids = iter([9.0, 4.0, 7.0])
    monkeypatch.setattr(epoch_eval.EpochEval, "measure", lambda self, *a: {
        "fid": next(fids), "class_coverage": 1.0, "n": self.n, "eval_s": 0.0})
    record = train(catalog, _config(), store, console=Console(file=io.StringIO()),
                   show_progress=False, eval_every=1, eval_n=100)
    result = json.loads((record.path / "result.json").read_text())
    assert (result["best"]["epoch"], result["best"]["fid"]) == (2, 4.0)
    best, meta = read_weights(record.path / BEST_NAME)
    assert meta["epochs"] == 2
    last, _ = read_weights(record.path / "weights.safetensors")
    monkeypatch.undo()
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(), raising=False)
    stopped = train(catalog, _config(epochs=2), store, console=Console(file=io.StringIO()),
                    show_progress=False)
    there, _ = read_weights(stopped.path / "weights.safetensors")
    for name, value in there.items():
        np.testing.assert_array_equal(best[name], value)
    assert any(not np.array_equal(best[k], last[k]) for k in best)


@pytest.mark.parametrize(("resumed_fid", "best_epoch"), [(7.0, 1), (2.0, 3)])
def test_resume_carries_the_best_epoch(setup, monkeypatch, resumed_fid, best_epoch):
    """FIDs 4, 9 over two epochs, then --resume to 3 epochs: the parent's best (epoch 1) is the
    one to beat; a worse epoch 3 keeps it, a better one replaces it."""
    catalog, store = setup
    fids = iter([4.0, 9.0, resumed_fid])
    monkeypatch.setattr(epoch_eval.EpochEval, "measure", lambda self, *a: {
        "fid": next(fids), "class_coverage": 1.0, "n": self.n, "eval_s": 0.0})
    parent = train(catalog, _config(epochs=2), store, console=Console(file=io.StringIO()),
                   show_progress=False, eval_every=1, eval_n=100)
    parent_best, _ = read_weights(parent.path / BEST_NAME)
    child = train(catalog, _config(epochs=3), store, console=Console(file=io.StringIO()),
                  show_progress=False, eval_every=1, eval_n=100, resume=parent.ref)
    result = json.loads((child.path / "result.json").read_text())
    assert result["best"]["epoch"] == best_epoch
    best, meta = read_weights(child.path / BEST_NAME)
    assert meta["epochs"] == best_epoch
    last, _ = read_weights(child.path / "weights.safetensors")
    expected = parent_best if best_epoch == 1 else last
    for name, value in expected.items():
        np.testing.assert_array_equal(best[name], value)
