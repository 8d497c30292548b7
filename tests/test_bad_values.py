"""Bad values: NaN weights and checkpoints, error text with brackets, a folder for a file,
TensorFlow's start-up chatter, and imported versions in 'ganzoo runs' (issue 15)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from export_support import (
    cli_store,
    numpy_catalog,
    random_weights,
    register_version,
    write_file,
)

from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore
from ganzoo.training.checkpoint import save_checkpoint

CATALOG = numpy_catalog()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    return cli_store(tmp_path / "home", monkeypatch, CATALOG)


def _nan_file(path: Path, value: float = float("nan")) -> Path:
    arrays = random_weights(CATALOG.model("mlp-numpy").card.recipe("seed004"))
    name = sorted(k for k in arrays if k.startswith("generator."))[0]
    arrays[name].flat[3] = value
    return write_file(path, CATALOG, arrays=arrays)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_sample_refuses_non_finite_weights(store, cli, tmp_path, value):
    bad = _nan_file(tmp_path / "bad.safetensors", value)
    grid = tmp_path / "grid.png"
    result = cli("sample", "--weights", str(bad), "-o", str(grid))
    assert result.exit_code == 1, result.output
    assert "holds NaN or infinite values" in result.stderr
    assert not grid.exists()


def test_import_refuses_non_finite_weights(store, cli, tmp_path):
    bad = _nan_file(tmp_path / "bad.safetensors")
    result = cli("import", str(bad))
    assert result.exit_code == 1 and "holds NaN or infinite values" in result.stderr
    assert store.list() == [] and not any((store.work_dir).glob("*/weights.safetensors"))


def test_resume_refuses_a_checkpoint_with_nan(store, cli):
    record = register_version(store, CATALOG)
    config = TrainConfig(model_id="mlp-numpy", recipe="seed004", dataset="mnist", epochs=1)
    (record.path / "config.json").write_text(json.dumps(config.to_dict()))
    state = {"generator.0.weight": np.array([[1.0, np.nan]], np.float32),
             "step": np.array(3, np.int64)}
    save_checkpoint(record.path / "checkpoint.safetensors", state,
                    {"epoch": 0, "step": 3, "global_step": 3, "images_seen": 96,
                     "train_time_s": 1.0})
    result = cli("train", "mlp-numpy", "--resume", "mlp-numpy@1", "--epochs", "3")
    assert result.exit_code == 1, result.output
    assert "holds NaN or infinite values" in result.stderr and "cannot be resumed" in result.stderr
    assert [r.ref for r in store.list()] == ["mlp-numpy@1"]


def test_error_text_in_brackets_is_shown_as_written(store, cli, tmp_path):
    bad = write_file(tmp_path / "shape.safetensors", CATALOG, image_shape=[-1, 28, 1])
    result = cli("sample", "--weights", str(bad))
    assert result.exit_code == 1
    assert "'image_shape' must be [height, width, channels], got [-1, 28, 1]" in result.stderr


def test_an_error_naming_a_bracketed_path_keeps_it(store, cli, tmp_path):
    folder = tmp_path / "[red]runs"
    folder.mkdir()
    result = cli("sample", "--weights", str(folder / "missing.safetensors"))
    assert result.exit_code == 1 and "[red]runs/missing.safetensors" in result.stderr


def test_sample_weights_folder_says_it_is_a_folder(store, cli, tmp_path):
    result = cli("sample", "--weights", str(tmp_path))
    assert result.exit_code == 1
    assert "is a folder, not a weights file" in result.stderr


def test_imported_versions_show_as_imported_with_their_origin(store, cli, tmp_path):
    register_version(store, CATALOG)
    good = write_file(tmp_path / "colleague.safetensors", CATALOG)
    assert cli("import", str(good)).exit_code == 0
    result = cli("runs")
    assert result.exit_code == 0
    lines = {line.split()[1]: line for line in result.output.splitlines()
             if "mlp-numpy@" in line}
    assert "imported" in lines["mlp-numpy@2"] and "colleague.safetensors" in lines["mlp-numpy@2"]
    assert "nan" not in lines["mlp-numpy@2"] and " 0 " not in lines["mlp-numpy@2"]
    assert "imported" not in lines["mlp-numpy@1"]
    assert store.resolve("mlp-numpy@2").imported_from == "colleague.safetensors"
    shown = cli("runs", "show", "mlp-numpy@2")
    assert "imported from colleague.safetensors" in shown.output


@pytest.mark.keras
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs tensorflow")
def test_sample_with_keras_prints_no_tensorflow_log_lines(tmp_path):
    weights = write_file(tmp_path / "w.safetensors", CATALOG)
    env = dict(os.environ, GANZOO_HOME=str(tmp_path / "home"), GANZOO_PLUGINS="torch,keras")
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-m", "ganzoo", "sample", "--weights", str(weights),
                           "--backend", "keras", "-n", "4", "-o", str(tmp_path / "g.png")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for noise in ("absl", "oneDNN", "I0000", "tensorflow/", "cuda"):
        assert noise not in done.stderr, done.stderr
    assert "Wrote 4 samples" in done.stdout
