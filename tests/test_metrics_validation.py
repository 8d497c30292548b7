"""Metric validation, fast: disturbances, monotone metrics at small n, and the report script."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

from ganzoo.data import load_dataset
from ganzoo.metrics import disturb, validation

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_dataset(None, "fashion", "bundled-test").images[:64]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Bundled test splits only: the pools are two halves of the test split."""
    monkeypatch.delenv("GANZOO_DATA", raising=False)
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("name, levels", [
    ("noise", (0.0, 0.05, 0.2, 0.4)), ("blur", (0.0, 0.5, 1.5, 3.0)),
    ("salt_pepper", (0.0, 0.01, 0.1, 0.4)), ("swirl", (0.0, 1.0, 3.0, 5.0)),
])
def test_image_disturbances_grow_with_strength(images, name, levels):
    d = next(d for d in validation.disturbances(100) if d.name == name)
    diffs = []
    for level in levels:
        out = d.make(None, images, level, len(images), np.random.default_rng(0))
        assert out.shape == images.shape and out.dtype == np.uint8
        diffs.append(np.abs(out.astype(int) - images.astype(int)).mean())
    assert diffs[0] == 0.0  # strength 0 leaves the images alone
    assert all(b > a for a, b in itertools.pairwise(diffs)), diffs


def test_set_disturbances_do_what_they_say(images):
    labels = np.arange(len(images)) % 10
    rng = np.random.default_rng(0)
    dropped, replaced = disturb.drop_classes(images, labels, 3, 20, rng)
    kept = {int(np.flatnonzero((images == img).all(axis=(1, 2, 3)))[0]) % 10 for img in dropped}
    assert kept <= set(range(3, 10)) and not replaced
    assert disturb.drop_classes(images, labels, 9, 40, rng)[1]  # 7 images left: replacement
    collapsed = disturb.collapse(images, 5, 60, rng)
    assert len(collapsed) == 60 and len(np.unique(collapsed.reshape(60, -1), axis=0)) == 5
    other = np.zeros_like(images)
    mixed = disturb.mix_in(images, other, 0.25, rng)
    assert (mixed.reshape(len(images), -1).max(axis=1) == 0).sum() == 16


@pytest.mark.slow  # about 12 s on two busy cores
def test_metrics_move_the_way_they_claim(offline):
    """A fast subset of the validation: each claimed direction holds at small n."""
    n = 400
    levels = {"noise": (0.0, 0.1, 0.3), "salt_pepper": (0.0, 0.05, 0.2),
              "mix": (0.0, 0.3, 1.0), "drop_classes": (0.0, 3.0, 8.0),
              "collapse": (float(n), 8.0, 2.0)}
    result = validation.run("fashion", n, levels=levels, only=tuple(levels))
    assert result["n"] == n and set(result["disturbances"]) == set(levels)
    assert validation.violations(result) == []
    drop = result["disturbances"]["drop_classes"]["rows"]
    assert drop[-1]["coverage"] <= 0.2 and drop[-1]["knn_coverage"] < 0.3
    clean = drop[0]
    assert clean["knn_coverage"] > 0.9 and clean["recall"] > 0.7  # level 0: real vs real
    assert result["disturbances"]["noise"]["claims"]["precision"] == -1


def test_violations_name_a_step_against_the_claim():
    rows = [{"level": 0.0, "fid": 1.0}, {"level": 1.0, "fid": 5.0}, {"level": 2.0, "fid": 3.0}]
    result = {"dataset": "x", "disturbances": {"d": {"claims": {"fid": 1}, "rows": rows}}}
    found = validation.violations(result)
    assert len(found) == 1 and "fid goes down from level 1 to 2" in found[0]
    flat = {"dataset": "x", "disturbances": {"d": {"claims": {"fid": 1}, "rows": rows[:1] * 3}}}
    assert "does not move" in validation.violations(flat)[0]
    assert validation.violations(result, {"fid": 2.5}) == []


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
def test_the_script_writes_tables_plots_and_keeps_the_prose(offline, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "metrics_validation", ROOT / "benchmarks" / "metrics_validation.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    doc = offline / "doc.md"
    doc.write_text(f"intro\n{script.BEGIN}\nold\n{script.END}\noutro\n", encoding="utf-8")
    monkeypatch.setattr(script, "DOC", doc)
    monkeypatch.setattr(script, "IMAGES", offline / "images")
    assert script.main(["-n", "200", "--datasets", "fashion", "--levels", "2",
                        "--only", "noise,collapse"]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "### Gaussian noise" in text and "| distinct images m |" in text
    for name in ("noise.png", "collapse.png", "examples.png", "results.json"):
        assert (offline / "images" / name).stat().st_size > 1000
