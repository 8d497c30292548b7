"""Ctrl-C waits for at most one slow step: how the loop sizes its ``run_steps`` calls."""

from __future__ import annotations

import json
import os
import signal

import pytest
from fakes import FakeDataset, FakePlugin, FakeTrainer
from rich.console import Console

import ganzoo.data
from ganzoo.catalog import Catalog
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore
from ganzoo.training import pacing
from ganzoo.training.loop import train
from ganzoo.training.pacing import Pacer, Window


def test_a_fast_model_runs_whole_windows_after_one_untimed_and_one_timed_step():
    asked = []
    pacer = Pacer(log_every=20, agree=lambda slow: asked.append(slow) or slow, budget_s=2.0)
    assert pacer.count(20) == 1
    pacer.observe(1, 30.0)  # the warm-up call (compilation) is not held against the model
    assert pacer.single_step is None and pacer.count(19) == 1
    pacer.observe(1, 0.05)  # 20 steps of 0.05 s: 1 s, inside the budget
    assert asked == [False]
    assert pacer.count(18) == 18 and pacer.count(5) == 5
    pacer.observe(18, 100.0)  # decided once per session: no second agreement
    assert asked == [False] and pacer.count(20) == 20


def test_a_slow_model_runs_one_step_per_call():
    pacer = Pacer(log_every=20, budget_s=2.0)
    pacer.observe(1, 0.0)
    pacer.observe(1, 0.2)  # 20 steps of 0.2 s: 4 s, over the budget
    assert pacer.single_step is True
    assert [pacer.count(n) for n in (19, 5, 1)] == [1, 1, 1]


def test_the_ranks_agreement_decides():
    pacer = Pacer(log_every=20, agree=lambda slow: True, budget_s=2.0)  # another rank is slow
    pacer.observe(1, 0.0)
    pacer.observe(1, 0.001)
    assert pacer.count(20) == 1


def test_a_window_weights_its_metrics_by_steps():
    window = Window()
    window.add({"d_loss": 1.0}, 3, 0.5)
    window.add({"d_loss": 2.0}, 1, 0.5)
    assert window.means() == {"d_loss": 1.25} and window.steps == 4
    assert window.images_per_s(32) == 128.0
    assert Window().means() == {} and Window().images_per_s(32) == 0.0


@pytest.fixture
def calls(tmp_path, monkeypatch):
    """Train the fake model, recording each run_steps call's count; a Ctrl-C arrives while
    the step numbered ``extra["sigint_at"]`` runs."""
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(),
                        raising=False)
    counts: list[int] = []
    plain = FakeTrainer.run_steps

    def run_steps(self, epoch, start, count):
        counts.append(count)
        if start <= self.extra.get("sigint_at", -1) < start + count:
            os.kill(os.getpid(), signal.SIGINT)
        return plain(self, epoch, start, count)

    monkeypatch.setattr(FakeTrainer, "run_steps", run_steps)
    catalog = Catalog.load(entry_points=False, extra=[("fake", FakePlugin())])
    store = RunStore(tmp_path / "home")

    def run(budget_s, **extra):
        monkeypatch.setattr(pacing, "CALL_BUDGET_S", budget_s)
        counts.clear()
        config = TrainConfig(model_id="mlp-fake", recipe="seed002", dataset="fashion",
                             epochs=1, batch_size=32, seed=3, log_every=5, extra=extra)
        with open(os.devnull, "w") as sink:
            record = train(catalog, config, store, console=Console(file=sink),
                           show_progress=False)
        return record, list(counts)

    return run


def test_ctrl_c_on_a_slow_model_stops_after_the_step_in_flight(calls):
    record, counts = calls(budget_s=0.0, sigint_at=3)  # every model is "slow"
    assert counts == [1, 1, 1, 1]
    assert record.status == "interrupted" and record.steps == 4


def test_ctrl_c_on_a_fast_model_stops_at_the_window_end(calls):
    record, counts = calls(budget_s=1e9, sigint_at=3)
    assert counts == [1, 1, 3]  # steps 0, 1 (timed), then the rest of the first window
    assert record.status == "interrupted" and record.steps == 5


def _step_records(record) -> list[dict]:
    return [json.loads(line) for line in (record.path / "metrics.jsonl").read_text()
            .splitlines() if '"kind": "step"' in line]


def test_the_log_keeps_its_cadence_whatever_the_call_size(calls):
    for budget in (0.0, 1e9):
        record, counts = calls(budget_s=budget)
        steps = [r["step"] for r in _step_records(record)]
        assert steps == [5, 8]  # 8 steps per epoch: a window of 5, then the epoch's end
        assert sum(counts) == 8


def test_images_seen_counts_every_step_whatever_the_call_size(calls):
    for budget in (0.0, 1e9):
        record, _ = calls(budget_s=budget)
        seen = [r["images_seen"] for r in _step_records(record)]
        assert seen == [5 * 32, 8 * 32]
        result = json.loads((record.path / "result.json").read_text())
        assert result["images_seen"] == 8 * 32 and result["global_step"] == 8
