"""Exit codes and signals (docs/exit-codes.md): real training processes get SIGINT and
SIGTERM; interrupted and diverged runs exit non-zero, a complete one 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from fakes import FakeDataset, FakePlugin

import ganzoo.cli.train_cmd
import ganzoo.data
import ganzoo.training.loop
from ganzoo.catalog import Catalog
from ganzoo.errors import EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ganzoo.store import RunStore

TRAIN = [sys.executable, "-m", "ganzoo", "train", "mlp-torch", "--recipe", "seed004",
         "--data", "fashion", "--split", "bundled-test", "--epochs", "1", "--log-every", "2",
         "--no-progress"]


def test_the_table():
    assert (EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED) == (0, 2, 3, 130)
    assert ganzoo.cli.train_cmd.exit_code_for("complete") == 0
    assert ganzoo.cli.train_cmd.exit_code_for("interrupted") == 130
    assert ganzoo.cli.train_cmd.exit_code_for("diverged") == 3


def _env(home) -> dict:
    return dict(os.environ, GANZOO_HOME=str(home), COLUMNS="200", GANZOO_PLUGINS="torch")


def _start(home, *extra: str) -> subprocess.Popen:
    # Enough epochs that a quiet machine (17,000 img/s: one bundled epoch in under a second)
    # is still training when the signal lands; the last --epochs given wins.
    return subprocess.Popen([*TRAIN, "--epochs", "200", *extra], env=_env(home),
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_steps(proc: subprocess.Popen, home, lines: int = 2) -> None:
    deadline = time.time() + 240
    while time.time() < deadline:
        logs = list((home / "work").glob("*/metrics.jsonl")) if (home / "work").exists() else []
        if logs and len(logs[0].read_text().splitlines()) >= lines:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail("training logged nothing in 240 s")


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_checkpoints_registers_interrupted_and_exits_130(tmp_path, sig):
    home = tmp_path / "home"
    proc = _start(home)
    _wait_for_steps(proc, home)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == EXIT_INTERRUPTED, out + err
    assert "Registered mlp-torch@1 (interrupted)" in out and "Traceback" not in err
    if sig == signal.SIGTERM:
        assert "SIGTERM" in out
    record = RunStore(home).resolve("mlp-torch@1")
    assert record.status == "interrupted" and record.steps > 0
    assert (record.path / "checkpoint.safetensors").is_file()
    assert not list((home / "work").iterdir())  # nothing left behind


@pytest.mark.torch
@pytest.mark.slow
def test_a_second_signal_aborts_with_130_and_leaves_an_orphan_for_gc(tmp_path):
    home = tmp_path / "home"
    proc = _start(home)
    deadline = time.time() + 240
    while not list((home / "work").glob("*/config.json")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    # Back to back: the second lands while the step in flight still runs (a fast model stops
    # within one step of the first, so a pause here would let the run register first).
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == EXIT_INTERRUPTED, out + err
    assert "Traceback" not in err
    assert RunStore(home).list() == []
    orphans = RunStore(home).gc(clean=True)
    assert len(orphans) == 1 and not orphans[0].path.exists()


@pytest.mark.torch
@pytest.mark.slow
def test_a_complete_run_exits_0(tmp_path):
    home = tmp_path / "home"
    done = subprocess.run([*TRAIN, "--max-steps", "2"], env=_env(home), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert RunStore(home).resolve("mlp-torch@1").status == "complete"


def test_a_diverged_run_exits_3(tmp_path, monkeypatch, cli):
    """The CLI end to end, on the numpy trainer of fakes.py told to produce NaN losses."""
    catalog = Catalog.load(entry_points=False, extra=[("fake", FakePlugin())])
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ganzoo.cli.train_cmd, "load_catalog", lambda: catalog)
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(),
                        raising=False)
    real = ganzoo.training.loop.train

    def diverging(catalog, config, store, **kw):
        return real(catalog, replace(config, extra={"nan_at_epoch": 0}), store, **kw)

    monkeypatch.setattr(ganzoo.training.loop, "train", diverging)
    result = cli("train", "mlp-fake", "--epochs", "1", "--no-progress")
    assert result.exit_code == EXIT_DIVERGED, result.output
    assert "Registered mlp-fake@1 (diverged)" in result.output
    assert RunStore(tmp_path / "home").resolve("mlp-fake@1").status == "diverged"


def test_a_finished_command_ignores_a_late_ctrl_c_while_python_tears_down(monkeypatch):
    """A Ctrl-C after the command returned would only print a finaliser's traceback."""
    import ganzoo.cli
    import ganzoo.cli.app

    monkeypatch.setattr(ganzoo.cli.app, "app", lambda: None)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        ganzoo.cli.main()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
