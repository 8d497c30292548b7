"""``ganzoo datasets``: what a fresh offline machine shows, and a named data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganzoo.data import download as download_module
from ganzoo.data import places as places_module

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _no_network(url, *args, **kwargs):
    raise AssertionError(f"a test tried to open {url}")


@pytest.fixture
def run(cli, tmp_path, monkeypatch):
    """Run ``ganzoo datasets ...`` on a fresh offline machine; return (exit code, output)."""
    for var in ("GANZOO_DATA", "KERAS_HOME", "TORCH_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(places_module, "SYSTEM_DATASET_DIRS", (tmp_path / "usr-share-datasets",))
    monkeypatch.setattr(download_module, "urlopen", _no_network)
    monkeypatch.setenv("COLUMNS", "250")  # table cells unwrapped, for the assertions

    def invoke(*args: str) -> tuple[int, str]:
        result = cli("datasets", *args)
        return result.exit_code, result.output

    return invoke


def _row(output: str, dataset: str, split: str) -> str:
    rows = [line for line in output.splitlines()
            if line.startswith("│") and f" {dataset} " in line and f"│ {split} " in line]
    assert len(rows) == 1, output
    return rows[0]


def test_fresh_offline_machine(run):
    code, output = run()
    assert code == 0, output
    for name in ("fashion", "mnist"):
        bundled = _row(output, name, "bundled-test")
        assert "10,000" in bundled and "bundled with ganzoo" in bundled
        assert "not found" in _row(output, name, "train")
        assert "not found" in _row(output, name, "test")
    assert "MIT" in _row(output, "fashion", "train")
    assert "CC BY-SA 3.0" in _row(output, "mnist", "train")
    assert "fashion train, test: not found. Fix:" in output
    assert "--data fashion --split bundled-test" in output
    assert "--data-dir DIR or set GANZOO_DATA=DIR" in output
    assert "apt install dataset-fashion-mnist" in output
    assert "Downloads are off" in output


@pytest.mark.skipif(not (SHARED / "fashion-mnist").is_dir(), reason="no ../shared/datasets")
def test_named_data_dir_with_verify(run):
    code, output = run("--data-dir", str(SHARED), "--verify")
    assert code == 0, output
    row = _row(output, "fashion", "train")
    assert f"{SHARED / 'fashion-mnist'} (--data-dir)" in row
    assert "checked: sha256" in output
    assert "not found" in _row(output, "mnist", "train")  # ../shared has MNIST's test only
    assert "mnist train: not found" in output


def test_missing_data_dir_is_one_red_line(run, tmp_path):
    code, output = run("--data-dir", str(tmp_path / "nowhere"))
    assert code == 1
    assert "error:" in output and "nowhere is not a folder" in output
