"""benchmarks/eval_stages.py: every stage of ``ganzoo eval`` timed, on a tiny n."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_stages.py"

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch"),
]


def test_every_stage_is_timed_and_the_totals_add_up(tmp_path: Path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("eval_stages", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_stages"] = module
    spec.loader.exec_module(module)
    out = tmp_path / "stages.json"
    assert module.main(["-n", "120", "--model", "mlp-torch", "--json", str(out)]) == 0
    seconds = json.loads(out.read_text(encoding="utf-8"))["seconds"]
    stages = ["load extractor", "generation", "features (real)", "features (generated)",
              "FID", "KID", "precision/recall", "density/coverage", "IS + class coverage"]
    assert list(seconds)[:len(stages)] == stages
    assert all(seconds[s] > 0 for s in stages)
    metrics = sum(seconds[s] for s in stages[4:])
    assert seconds["end to end (reference and floor cached)"] == pytest.approx(
        seconds["load extractor"] + seconds["generation"] + seconds["features (generated)"]
        + metrics)
    assert seconds["end to end (uncached, with floor)"] == pytest.approx(
        seconds["end to end (reference and floor cached)"] + 2 * seconds["features (real)"]
        + metrics)
    printed = capsys.readouterr().out
    assert "n 120" in printed and "load average" in printed and "KID" in printed
