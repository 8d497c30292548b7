"""The core training shell, driven by the numpy backend in fakes.py (no framework needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeDataset, FakePlugin, FakeTrainer
from rich.console import Console

import ganzoo.data
from ganzoo.catalog import Catalog
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore
from ganzoo.training.loop import train
from ganzoo.weights import read_weights

TESTS = Path(__file__).parent


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(), raising=False)
    catalog = Catalog.load(entry_points=False, extra=[("fake", FakePlugin())])
    store = RunStore(tmp_path / "home")
    return catalog, store


def _config(**kw) -> TrainConfig:
    base = dict(model_id="mlp-fake", recipe="seed002", dataset="fashion", epochs=2,
                batch_size=32, seed=3, log_every=3)
    base.update(kw)
    return TrainConfig(**base)


def _quiet() -> Console:
    return Console(file=open(os.devnull, "w"))


def test_complete_run_registers_a_version_with_its_outputs(setup):
    catalog, store = setup
    record = train(catalog, _config(), store, console=_quiet(), show_progress=False)
    assert record.ref == "mlp-fake@1" and record.status == "complete"
    assert record.epochs == 2 and record.steps == 2 * (256 // 32)
    for name in ("weights.safetensors", "checkpoint.safetensors", "config.json", "loss.png",
                 "metrics.jsonl", "samples/epoch_0001.png", "samples/epoch_0002.png",
                 "samples.png", "version.json", "result.json"):
        assert (record.path / name).is_file(), name
    epochs = [json.loads(line) for line in (record.path / "metrics.jsonl").read_text().splitlines()
              if '"epoch"' in line and '"kind": "epoch"' in line]
    assert [e["epoch"] for e in epochs] == [1, 2]
    arrays, meta = read_weights(record.path / "weights.safetensors")
    assert meta["model_id"] == "mlp-fake" and meta["epochs"] == 2 and meta["noise"] == "normal"
    assert set(arrays) == {"generator.0.weight", "discriminator.0.bias"}
    assert store.resolve("mlp-fake@latest") == record


def test_resume_continues_exactly(setup):
    catalog, store = setup
    full = train(catalog, _config(epochs=3), store, console=_quiet(), show_progress=False)
    first = train(catalog, _config(epochs=1), store, console=_quiet(), show_progress=False)
    resumed = train(catalog, _config(epochs=3), store, resume=first.ref, console=_quiet(),
                    show_progress=False)
    assert resumed.parent == first.ref and resumed.epochs == 3
    a, _ = read_weights(full.path / "weights.safetensors")
    b, _ = read_weights(resumed.path / "weights.safetensors")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    # The resumed version carries its parent's history: one epoch record per epoch, no repeats.
    epochs = [json.loads(x)["epoch"] for x in (resumed.path / "metrics.jsonl").read_text()
              .splitlines() if '"kind": "epoch"' in x]
    assert epochs == [1, 2, 3]


def test_nan_loss_stops_and_keeps_last_good_checkpoint(setup):
    catalog, store = setup
    config = _config(epochs=4, extra={"nan_at_epoch": 2})
    record = train(catalog, config, store, console=_quiet(), show_progress=False)
    assert record.status == "diverged" and record.epochs == 2
    good = train(catalog, _config(epochs=2), store, console=_quiet(), show_progress=False)
    a, meta = read_weights(record.path / "weights.safetensors")
    b, _ = read_weights(good.path / "weights.safetensors")
    assert meta["epochs"] == 2
    np.testing.assert_array_equal(a["generator.0.weight"], b["generator.0.weight"])


def test_resuming_a_diverged_version_rewinds_its_log_to_the_checkpoint(setup, monkeypatch):
    """A run that diverged mid-epoch logged steps past its last checkpoint; the resumed
    version's log drops them, so every step appears once."""
    catalog, store = setup
    plain, diverge = FakeTrainer.run_steps, [True]

    def run_steps(self, epoch, start, count):
        metrics = plain(self, epoch, start, count)
        if diverge[0] and epoch == 1 and start >= 5:
            metrics["g_loss"] = float("nan")
        return metrics

    monkeypatch.setattr(FakeTrainer, "run_steps", run_steps)
    diverged = train(catalog, _config(epochs=2), store, console=_quiet(), show_progress=False)
    assert diverged.status == "diverged" and diverged.epochs == 1

    def logged(record):
        return [json.loads(x)["global_step"] for x in (record.path / "metrics.jsonl")
                .read_text().splitlines() if '"kind": "step"' in x]

    assert logged(diverged)[-1] > 8  # steps of epoch 2 were logged past the epoch-1 checkpoint
    diverge[0] = False
    resumed = train(catalog, _config(epochs=2), store, resume=diverged.ref, console=_quiet(),
                    show_progress=False)
    assert resumed.status == "complete"
    steps = logged(resumed)
    assert steps == sorted(set(steps)) and steps[-1] == 16


def test_nan_in_first_epoch_keeps_initial_weights(setup):
    catalog, store = setup
    record = train(catalog, _config(extra={"nan_at_epoch": 0}), store, console=_quiet(),
                   show_progress=False)
    assert record.status == "diverged" and record.epochs == 0
    assert (record.path / "weights.safetensors").is_file()


def test_resume_rejects_other_model_and_finished_runs(setup):
    from ganzoo.errors import UsageError

    catalog, store = setup
    done = train(catalog, _config(epochs=1), store, console=_quiet(), show_progress=False)
    with pytest.raises(UsageError, match="already trained 1 epoch;"):
        train(catalog, _config(epochs=1), store, resume=done.ref, console=_quiet(),
              show_progress=False)


SIGINT_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import ganzoo.data
    from fakes import FakeDataset, FakePlugin
    from ganzoo.catalog import Catalog
    from ganzoo.protocols import TrainConfig
    from ganzoo.store import RunStore
    from ganzoo.training.loop import train
    ganzoo.data.load_dataset = lambda *a, **k: FakeDataset()
    catalog = Catalog.load(entry_points=False, extra=[("fake", FakePlugin())])
    config = TrainConfig(model_id="mlp-fake", recipe="seed002", dataset="fashion", epochs=3,
                         batch_size=32, seed=3, log_every=1, extra={extra})
    resume = sys.argv[1] if len(sys.argv) > 1 else None
    record = train(catalog, config, RunStore(), resume=resume, show_progress=False)
    print("REGISTERED", record.ref, record.status, flush=True)
""")


def _script(extra: dict) -> str:
    return SIGINT_SCRIPT.format(tests=str(TESTS), extra=repr(extra))


@pytest.mark.slow
def test_ctrl_c_registers_a_resumable_interrupted_version(tmp_path):
    env = dict(os.environ, GANZOO_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen([sys.executable, "-c", _script({"sleep": 0.05})], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work = tmp_path / "home" / "work"
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until it is mid-epoch 1
        logs = list(work.glob("*/metrics.jsonl")) if work.exists() else []
        if logs and len(logs[0].read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "REGISTERED mlp-fake@1 interrupted" in out
    record = RunStore(tmp_path / "home").resolve("mlp-fake@1")
    assert (record.path / "checkpoint.safetensors").is_file()

    resumed = subprocess.run([sys.executable, "-c", _script({}), "mlp-fake@1"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert "REGISTERED mlp-fake@2 complete" in resumed.stdout, resumed.stderr
    full = subprocess.run([sys.executable, "-c", _script({})], env=env, capture_output=True,
                          text=True, timeout=120)
    assert "REGISTERED mlp-fake@3 complete" in full.stdout, full.stderr
    store = RunStore(tmp_path / "home")
    a, _ = read_weights(store.resolve("mlp-fake@2").path / "weights.safetensors")
    b, _ = read_weights(store.resolve("mlp-fake@3").path / "weights.safetensors")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_tensorboard_events_hold_scalars_and_images(setup, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    catalog, store = setup
    train(catalog, _config(epochs=1), store, console=_quiet(), show_progress=False,
          tensorboard=tmp_path / "tb")
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0})
    events.Reload()
    assert "train/d_loss" in events.Tags()["scalars"]
    assert len(events.Scalars("train/g_loss")) == 3  # 8 steps read back every 3 steps
    (image,) = events.Images("samples")
    assert image.width > 8 * 28 and image.encoded_image_string.startswith(b"\x89PNG")
