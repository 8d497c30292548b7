"""Data-parallel torch training, for real: two CPU processes on the gloo backend."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ganzoo.frameworks import import_torch

pytestmark = [pytest.mark.torch, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, out: str, step: str) -> None:
    """One rank: build a trainer under a 2-process world, train, save its weights."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch.distributed as dist
    from safetensors.numpy import save_file

    from ganzoo.cards import builtin_cards
    from ganzoo.protocols import TrainConfig
    from ganzoo_torch.backend import create_backend

    family, recipe_name = {"alternating": ("mlp", "seed004"),
                           "combined": ("combined", "seed001")}[step]
    card = {c.family: c for c in builtin_cards()}[family]
    recipe = card.recipe(recipe_name)
    images = np.random.default_rng(0).integers(0, 256, (256, 28, 28, 1), dtype=np.uint8)
    config = TrainConfig(model_id=f"{family}-torch", recipe=recipe_name, dataset="random",
                         batch_size=32, seed=5, device="cpu", max_steps=4, devices=world,
                         extra={"torch_threads": 1})
    trainer = create_backend(None).create_trainer(card, recipe, config, images)
    assert trainer.rank_batch == 16
    metrics = trainer.run_steps(0, 0, 4)
    assert trainer.any_rank(rank == 1) is True  # a stop on rank 1 reaches rank 0
    save_file({k: np.ascontiguousarray(v) for k, v in trainer.weights().items()},
              f"{out}/rank{rank}.safetensors", metadata={"d_loss": repr(metrics["d_loss"])})
    trainer.close()  # a barrier, then the teardown
    assert not dist.is_initialized()


@pytest.mark.parametrize("step", ["alternating", "combined"])
def test_two_ranks_average_gradients_and_stay_identical(tmp_path, step):
    torch = import_torch()
    from safetensors import safe_open
    from safetensors.numpy import load_file

    torch.multiprocessing.start_processes(
        _rank_main, args=(2, _free_port(), str(tmp_path), step), nprocs=2, join=True,
        start_method="spawn")
    a = load_file(str(tmp_path / "rank0.safetensors"))
    b = load_file(str(tmp_path / "rank1.safetensors"))
    # Different data shards and noise per rank, yet identical weights: gradients were averaged.
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    losses = []
    for rank in (0, 1):
        with safe_open(str(tmp_path / f"rank{rank}.safetensors"), "numpy") as f:
            losses.append(f.metadata()["d_loss"])
    assert losses[0] == losses[1]  # metrics are averaged over the ranks too


def test_cli_devices_two_trains_under_torchrun_and_registers_once(tmp_path):
    env = dict(os.environ, GANZOO_HOME=str(tmp_path / "home"), COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "ganzoo", "train", "mlp-torch", "--recipe", "seed004",
         "--data", "fashion", "--split", "bundled-test", "--epochs", "1", "--max-steps", "6",
         "--devices", "2", "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Launching 2 ranks" in proc.stdout
    versions = sorted((tmp_path / "home" / "models" / "mlp-torch").iterdir())
    assert [v.name for v in versions] == ["1"]
    assert (versions[0] / "samples" / "epoch_0001.png").is_file()
    assert not list(Path(tmp_path / "home" / "work").iterdir())


def test_devices_launches_torchrun_only_for_torch_models(monkeypatch):
    from ganzoo.cli import train_cmd
    from ganzoo.errors import UsageError

    launched = []
    monkeypatch.setattr(train_cmd, "run_ranks", lambda cmd, n: launched.append(cmd) or 0)
    # keras: nothing launched; the one process trains under a MirroredStrategy
    # (tests/test_keras_distributed.py runs it).
    assert train_cmd._launch_ranks("keras", 2) is None
    assert launched == []
    assert train_cmd._launch_ranks("torch", 2) == 0
    assert len(launched) == 1 and "--nproc_per_node=2" in launched[0]
    with pytest.raises(UsageError, match="torch"):
        train_cmd._launch_ranks("other", 2)


def test_ctrl_c_reaches_each_rank_once_and_registers_an_interrupted_version(tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, GANZOO_HOME=str(home), COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganzoo", "train", "mlp-torch", "--recipe", "seed004",
         "--data", "fashion", "--split", "bundled-test", "--epochs", "30", "--log-every", "4",
         "--devices", "2", "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until rank 0 has logged a few chunks
        logs = list((home / "work").glob("*/metrics.jsonl")) if (home / "work").exists() else []
        if logs and len(logs[0].read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # as a terminal's Ctrl-C reaches the ganzoo process
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, out + err
    assert "Registered mlp-torch@1 (interrupted)" in out, out + err
    assert out.count("Stopping after the current steps") == 1  # rank 0 speaks for all
    assert "Traceback" not in out + err  # no torchrun agent dying of the signal


def test_child_pids_reads_parents_from_proc(tmp_path):
    from ganzoo.cli.ranks import child_pids

    for pid, comm, ppid in [(10, "python", 1), (11, "pt_elastic (x) y", 10), (12, "z", 10),
                            (13, "other", 11)]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} 0 0\n")
    (tmp_path / "self").mkdir()  # not a pid folder
    assert child_pids(10, tmp_path) == [11, 12]
    assert child_pids(11, tmp_path) == [13]
    assert child_pids(99, tmp_path) == []
