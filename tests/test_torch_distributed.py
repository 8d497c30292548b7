"""Data-parallel torch training, for real: two CPU processes on the gloo backend.

The equivalence checks need the same arithmetic on one process and on two, so they use
recipes without dropout (each rank would draw its own masks) and without batch norm (each
rank normalises with its own half batch's statistics, as DistributedDataParallel does without
SyncBatchNorm), and plain SGD: Adam divides a gradient by its own running scale, so a summed
gradient (twice the mean) would take nearly the same step and go unseen.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ganzoo.frameworks import import_torch

pytestmark = [pytest.mark.torch, pytest.mark.slow]

WORLD = 2
BATCH = 32  # the global batch: 16 images per rank
STEPS = 2
# (name, family, recipe, step kind, discriminator updates per generator update)
VARIANTS = [("alternating", "mlp", "seed004", "alternating", 1),
            ("alternating-k2", "mlp", "seed004", "alternating", 2),
            ("combined", "mlp", "seed003", "combined", 1),
            ("simultaneous", "mlp", "seed004", "simultaneous", 1)]


def _images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (256, 28, 28, 1), dtype=np.uint8)


def _plain(net):
    """``net`` without dropout and batch-norm layers (see the module docstring)."""
    return dataclasses.replace(net, layers=tuple(
        layer for layer in net.layers if layer.kind not in ("dropout", "batch_norm")))


def _recipe(family: str, name: str, step: str, k: int):
    from ganzoo.cards import OptimizerSpec, builtin_cards

    recipe = {c.family: c for c in builtin_cards()}[family].recipe(name)
    sgd = OptimizerSpec("sgd", {"lr": 0.5, "momentum": 0.0})
    return dataclasses.replace(recipe, step=step, d_steps_per_g=k,
                               generator=_plain(recipe.generator),
                               discriminator=_plain(recipe.discriminator),
                               optimizers={"generator": sgd, "discriminator": sgd})


class _SharedNoise:
    """The trainer's noise source: draw j is the j-th fixed global batch; each rank gets its
    slice, so two ranks together see exactly the noise one process sees."""

    def __init__(self, latent_dim: int, rank: int, world: int):
        self.latent_dim, self.rank, self.world, self.drawn = latent_dim, rank, world, 0

    def __call__(self, n: int):
        import torch

        assert n * self.world == BATCH, (n, self.world)
        rows = np.random.default_rng([7, self.drawn]).uniform(
            -1, 1, (BATCH, self.latent_dim)).astype(np.float32)
        self.drawn += 1
        return torch.from_numpy(rows[self.rank * n:(self.rank + 1) * n])


def _train(variant: tuple, world: int, rank: int) -> tuple[dict, dict, dict]:
    """(weights before, weights after STEPS steps, mean metrics) of ganzoo's torch trainer."""
    from ganzoo.protocols import TrainConfig
    from ganzoo_torch.backend import create_backend

    _, family, recipe_name, step, k = variant
    recipe = _recipe(family, recipe_name, step, k)
    config = TrainConfig(model_id=f"{family}-torch", recipe=recipe_name, dataset="random",
                         batch_size=BATCH, seed=5, device="cpu", max_steps=STEPS,
                         devices=world, extra={"torch_threads": 1})
    trainer = create_backend(None).create_trainer(recipe, config, _images())
    assert trainer.rank_batch == BATCH // world
    trainer.steps.noise = _SharedNoise(recipe.latent_dim, rank, world)
    before = trainer.weights()
    metrics = trainer.run_steps(0, 0, STEPS)
    return before, trainer.weights(), metrics


def _rank_main(rank: int, world: int, store: str, out: str) -> None:
    """One rank: every variant through ganzoo's trainer in a 2-process world; save weights."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    import torch
    import torch.distributed as dist
    from safetensors.numpy import save_file

    # A file rendezvous: no TCP port to pick, so no race with other processes for one.
    # join_world finds the group initialised and keeps it.
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    for variant in VARIANTS:
        _, after, metrics = _train(variant, world, rank)
        save_file({k: np.ascontiguousarray(v) for k, v in after.items()},
                  f"{out}/{variant[0]}.rank{rank}.safetensors",
                  metadata={k: repr(v) for k, v in metrics.items()})
    from ganzoo_torch.distributed import join_world

    world_ = join_world("cpu")
    assert (world_.size, world_.rank) == (world, rank)
    assert world_.any(rank == 1, torch.device("cpu")) is True  # rank 1's stop reaches rank 0
    world_.leave()  # a barrier, then the teardown
    assert not dist.is_initialized()


@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory):
    """Each variant trained by two gloo ranks: {variant: [(weights, metrics) per rank]}."""
    torch = import_torch()
    from safetensors import safe_open

    out = tmp_path_factory.mktemp("ranks")
    torch.multiprocessing.start_processes(
        _rank_main, args=(WORLD, str(out / "rendezvous"), str(out)), nprocs=WORLD, join=True,
        start_method="spawn")
    results = {}
    for variant in VARIANTS:
        results[variant[0]] = []
        for rank in range(WORLD):
            with safe_open(str(out / f"{variant[0]}.rank{rank}.safetensors"), "numpy") as f:
                weights = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
                metrics = {k: float(v) for k, v in f.metadata().items()}
            results[variant[0]].append((weights, metrics))
    return results


@pytest.mark.parametrize("variant", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_two_ranks_update_as_one_process_on_the_whole_batch(two_rank_results, variant):
    """Two ranks on half batches each = one process on the whole batch (gradients averaged).

    A sum of the ranks' gradients (or no reduction at all) moves the weights by twice (or
    by one rank's share of) the single-process update, far outside the tolerance.
    """
    import_torch()
    before, single, single_metrics = _train(variant, 1, 0)
    (rank0, metrics0), (rank1, metrics1) = two_rank_results[variant[0]]
    assert set(rank0) == set(single)
    for key in single:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
        update = single[key] - before[key]
        # The test means something only if the step moved this tensor well beyond the
        # tolerance; float32 sums in another order differ by ~1e-7 of the weights.
        assert np.abs(update).max() > 1e-4, key
        np.testing.assert_allclose(rank0[key] - before[key], update, rtol=1e-3,
                                   atol=1e-3 * np.abs(update).max(), err_msg=key)
    # The reported metrics are the ranks' mean, i.e. the whole batch's.
    assert metrics0 == metrics1
    for name, value in single_metrics.items():
        assert metrics0[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name


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


def test_devices_are_launched_by_the_backend(monkeypatch):
    """torch launches torchrun ranks; keras launches nothing (one process, MirroredStrategy)."""
    from ganzoo_keras.backend import KerasBackend
    from ganzoo_torch import distributed
    from ganzoo_torch.backend import TorchBackend

    launched = []
    monkeypatch.setattr(distributed, "run_ranks", lambda cmd, n: launched.append(cmd) or 0)
    assert KerasBackend().launch(2, ["train", "mlp-keras"]) is None
    assert launched == []
    assert TorchBackend().launch(2, ["train", "mlp-torch"]) == 0
    assert len(launched) == 1 and "--nproc_per_node=2" in launched[0]
    assert launched[0][-3:] == ["ganzoo", "train", "mlp-torch"]


def test_torch_rank_comes_from_torchrun(monkeypatch):
    from ganzoo_torch.backend import TorchBackend

    monkeypatch.delenv("RANK", raising=False)
    assert TorchBackend().rank() is None
    monkeypatch.setenv("RANK", "1")
    assert TorchBackend().rank() == 1


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
    assert proc.returncode == 130, out + err  # interrupted (docs/exit-codes.md)
    assert "Registered mlp-torch@1 (interrupted)" in out, out + err
    assert out.count("Stopping after the current steps") == 1  # rank 0 speaks for all
    assert "Traceback" not in out + err  # no torchrun agent dying of the signal


def test_child_pids_reads_parents_from_proc(tmp_path):
    from ganzoo_torch.distributed import child_pids

    for pid, comm, ppid in [(10, "python", 1), (11, "pt_elastic (x) y", 10), (12, "z", 10),
                            (13, "other", 11)]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} 0 0\n")
    (tmp_path / "self").mkdir()  # not a pid folder
    assert child_pids(10, tmp_path) == [11, 12]
    assert child_pids(11, tmp_path) == [13]
    assert child_pids(99, tmp_path) == []
