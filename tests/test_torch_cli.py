"""The torch path end to end through the CLI: train, Ctrl-C, resume, sample."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ganzoo.store import RunStore

pytestmark = [pytest.mark.torch, pytest.mark.slow]

TRAIN = [sys.executable, "-m", "ganzoo", "train", "mlp-torch", "--recipe", "seed004",
         "--data", "fashion", "--split", "bundled-test", "--epochs", "2", "--log-every", "4",
         "--no-progress"]


def test_ctrl_c_then_resume_then_sample(tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, GANZOO_HOME=str(home), COLUMNS="200")
    proc = subprocess.Popen(TRAIN, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until training has logged a few chunks
        logs = list((home / "work").glob("*/metrics.jsonl")) if (home / "work").exists() else []
        if logs and len(logs[0].read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, out + err  # interrupted (docs/exit-codes.md)
    assert "Registered mlp-torch@1 (interrupted)" in out
    interrupted = RunStore(home).resolve("mlp-torch@1")
    assert interrupted.status == "interrupted" and interrupted.steps > 0

    resumed = subprocess.run([*TRAIN, "--resume", "mlp-torch@1"], env=env, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    record = RunStore(home).resolve("mlp-torch@2")
    assert (record.status, record.parent, record.epochs) == ("complete", "mlp-torch@1", 2)
    assert record.steps == 2 * (10_000 // 64)  # the interrupted steps are not run twice
    assert (record.path / "samples" / "epoch_0002.png").is_file()

    grid = tmp_path / "grid.png"
    sampled = subprocess.run([sys.executable, "-m", "ganzoo", "sample", "mlp-torch@latest",
                              "-n", "16", "-o", str(grid)], env=env, capture_output=True,
                             text=True, timeout=300)
    assert sampled.returncode == 0, sampled.stderr
    assert grid.read_bytes().startswith(b"\x89PNG")
