"""The registry under stress: lost or busy indexes, orphans, read-only homes, full disks,
changed weights files and file modes (issue 15, "Store and registry")."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from export_support import cli_store, numpy_catalog, register_version, write_file

import ganzoo.store.runstore as runstore
from ganzoo.errors import (
    ReadOnlyHomeError,
    RegistrationPendingError,
    RegistryError,
    StoreWriteError,
)
from ganzoo.store import RunStore
from ganzoo.training.checkpoint import save_checkpoint
from ganzoo.weights import write_weights


def _info(model_id: str = "dcgan-torch", **kw) -> dict:
    base = dict(model_id=model_id, status="complete", family="dcgan", backend="torch",
                recipe="seed000", dataset="fashion", split="train", epochs=1, steps=10, seed=0,
                wall_time_s=1.5, images_per_s=100.0, final_metrics={"d_loss": 1.0},
                parent=None)
    base.update(kw)
    return base


def _register(store: RunStore, **kw):
    work = store.new_workdir()
    (work / "weights.safetensors").write_bytes(b"weights of " + repr(kw).encode())
    return store.register(work, _info(**kw))


def _drop_index(home):
    for suffix in ("", "-wal", "-shm"):
        path = home / f"index.sqlite{suffix}"
        if path.exists():
            path.unlink()


# -- a lost index: reindex, and a warning when folders and index disagree ---------------------


def test_reindex_rebuilds_a_lost_index_with_lineage(tmp_path):
    store = RunStore(tmp_path)
    _register(store)
    _register(store, status="interrupted")
    _register(store, parent="dcgan-torch@2")
    _register(store, model_id="mlp-keras", family="mlp", backend="keras")
    before = {r.ref: r for r in store.list()}
    _drop_index(tmp_path)

    fresh = RunStore(tmp_path)
    assert fresh.list() == []
    assert len(fresh.disagreements()) == 4
    with pytest.raises(RegistryError, match="runs reindex"):
        fresh.resolve("dcgan-torch@1")

    _records, skipped = fresh.reindex()
    assert skipped == []
    after = {r.ref: r for r in fresh.list()}
    assert after == before  # every column, lineage and sha256 included
    assert after["dcgan-torch@3"].parent == "dcgan-torch@2"
    assert fresh.disagreements() == []
    assert _register(fresh).version == 4  # numbering continues


def test_reindex_moves_a_corrupt_index_aside(tmp_path):
    store = RunStore(tmp_path)
    _register(store)
    _drop_index(tmp_path)
    (tmp_path / "index.sqlite").write_bytes(b"not a database at all" * 100)
    records, _ = RunStore(tmp_path).reindex()
    assert [r.ref for r in records] == ["dcgan-torch@1"]
    assert list(tmp_path.glob("index.sqlite.broken-*"))


def test_runs_warns_when_folders_and_index_disagree(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path))
    _register(RunStore(tmp_path))
    result = cli("runs")
    assert result.exit_code == 0 and "disagree" not in result.output
    _drop_index(tmp_path)
    result = cli("runs")
    assert result.exit_code == 0
    assert "dcgan-torch@1 is on disk" in result.stderr and "runs reindex" in result.stderr
    result = cli("runs", "reindex")
    assert result.exit_code == 0 and "dcgan-torch@1" in result.output
    assert "disagree" not in cli("runs").output


# -- a busy index never throws a finished training away ---------------------------------------


def _hold_lock(path):
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("BEGIN EXCLUSIVE")
    return db


def test_busy_index_keeps_the_run_and_says_how_to_recover(tmp_path):
    messages: list[str] = []
    store = RunStore(tmp_path, busy_timeout=0.05, register_patience=1.0,
                     notify=messages.append)
    work = store.new_workdir()
    (work / "weights.safetensors").write_bytes(b"73 MB of weights")
    lock = _hold_lock(store.db_path)
    try:
        with pytest.raises(RegistrationPendingError) as caught:
            store.register(work, _info())
    finally:
        lock.close()
    text = str(caught.value)
    assert str(work) in text and f"ganzoo runs recover {work}" in text
    assert messages and all("retrying" in m for m in messages)
    assert (work / "weights.safetensors").read_bytes() == b"73 MB of weights"
    assert store.list() == []

    record = RunStore(tmp_path).recover(work.name)
    assert record.ref == "dcgan-torch@1" and not work.exists()
    assert (record.path / "weights.safetensors").read_bytes() == b"73 MB of weights"
    assert not (record.path / runstore.PENDING_NAME).exists()


def test_busy_index_is_retried_until_it_frees(tmp_path):
    messages: list[str] = []
    store = RunStore(tmp_path, busy_timeout=0.05, register_patience=30.0,
                     notify=messages.append)
    work = store.new_workdir()
    lock = _hold_lock(store.db_path)
    threading.Timer(1.0, lock.close).start()
    record = store.register(work, _info())
    assert record.version == 1 and messages  # it said it was waiting, then made it


def test_runs_recover_cli(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path))
    store = RunStore(tmp_path, busy_timeout=0.05, register_patience=0.2,
                     notify=lambda m: None)
    work = store.new_workdir()
    lock = _hold_lock(store.db_path)
    try:
        with pytest.raises(RegistrationPendingError):
            store.register(work, _info())
    finally:
        lock.close()
    result = cli("runs", "gc")
    assert f"ganzoo runs recover {work.name}" in result.output
    assert cli("runs", "gc", "--clean").exit_code == 0 and work.exists()  # never deleted
    result = cli("runs", "recover", str(work))
    assert result.exit_code == 0 and "Registered dcgan-torch@1" in result.output


# -- orphan work folders -----------------------------------------------------------------------


def test_gc_cleans_orphans_but_never_a_live_process_folder(tmp_path, cli, monkeypatch):
    store = RunStore(tmp_path)
    mine = store.new_workdir()  # owned by this (live) process
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    orphan = store.work_dir / "orphan"
    orphan.mkdir()
    (orphan / "owner.json").write_text(json.dumps({"pid": int(dead.stdout), "start_time": 1}))
    (orphan / "checkpoint.safetensors").write_bytes(b"x" * 1000)
    reused = store.work_dir / "reused-pid"  # our pid, but another process's start time
    reused.mkdir()
    (reused / "owner.json").write_text(json.dumps({"pid": os.getpid(), "start_time": -5.0}))

    assert {w.path.name for w in store.gc()} == {"orphan", "reused-pid"}
    assert orphan.exists()  # reporting deletes nothing

    monkeypatch.setenv("GANZOO_HOME", str(tmp_path))
    result = cli("runs", "gc", "--clean")
    assert result.exit_code == 0 and "Deleted 2 orphan" in result.output
    assert not orphan.exists() and not reused.exists() and mine.exists()


# -- read-only homes and homes that cannot be created ------------------------------------------


@pytest.fixture
def read_only_home(tmp_path, monkeypatch):
    """A registry with one real version, then made read-only (root ignores modes: the
    store's own check is told the truth a read-only mount would tell it)."""
    catalog = numpy_catalog()
    home = tmp_path / "home"
    store = cli_store(home, monkeypatch, catalog)
    register_version(store, catalog)
    for path in [home, *home.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    if os.geteuid() == 0:
        monkeypatch.setattr(runstore, "_writable", lambda path: False)
    yield home
    for path in [home, *home.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def test_read_only_home_reads_work_and_writes_say_why(read_only_home, cli, tmp_path):
    store = RunStore(read_only_home)
    assert store.read_only
    assert [r.ref for r in store.list()] == ["mlp-numpy@1"]
    with store._connect() as db, pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("CREATE TABLE t (a)")  # the index really is opened read-only

    assert cli("runs").exit_code == 0
    assert cli("runs", "show", "mlp-numpy@1").exit_code == 0
    result = cli("sample", "mlp-numpy@1", "-n", "4", "-o", str(tmp_path / "g.png"))
    assert result.exit_code == 0, result.output
    for args in (("runs", "rm", "-y", "mlp-numpy@1"), ("runs", "reindex"),
                 ("train", "mlp-numpy", "--epochs", "1")):
        result = cli(*args)
        assert result.exit_code == 1
        assert "read-only" in result.stderr and "GANZOO_HOME" in result.stderr
        assert "Traceback" not in result.output
    with pytest.raises(ReadOnlyHomeError):
        store.new_workdir()


def test_a_home_that_cannot_be_created_is_a_typed_error(tmp_path, monkeypatch, cli):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("GANZOO_HOME", str(blocker / "home"))
    result = cli("runs")
    assert result.exit_code == 1
    assert "cannot create the ganzoo home" in result.stderr and "GANZOO_HOME" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- disk full ---------------------------------------------------------------------------------


def _disk_full(tensors, filename, metadata=None):
    with open(filename, "wb") as f:  # the writer got part of the way, as on a real full disk
        f.write(b"\x00" * 100)
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("writer", ["weights", "checkpoint"])
def test_disk_full_is_a_typed_error_and_nothing_is_half_written(tmp_path, monkeypatch, writer):
    target = tmp_path / f"{writer}.safetensors"
    target.write_bytes(b"the previous, complete file")
    monkeypatch.setattr(safetensors.numpy, "save_file", _disk_full)
    arrays = {"generator.0.weight": np.ones((2, 2), np.float32)}
    with pytest.raises(StoreWriteError) as caught:
        if writer == "weights":
            write_weights(target, arrays, {"model_id": "x"})
        else:
            save_checkpoint(target, arrays, {"epoch": 0})
    assert str(target) in str(caught.value) and "disk is full" in str(caught.value)
    assert target.read_bytes() == b"the previous, complete file"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temp file left


# -- integrity ---------------------------------------------------------------------------------


def test_a_replaced_weights_file_is_refused_by_sample_and_export(tmp_path, monkeypatch, cli):
    catalog = numpy_catalog()
    store = cli_store(tmp_path / "home", monkeypatch, catalog)
    good = register_version(store, catalog)
    changed = register_version(store, catalog)
    write_file(changed.path / "weights.safetensors", catalog, seed=99)  # valid, but not its own

    assert cli("sample", good.ref, "-n", "4", "-o", str(tmp_path / "a.png")).exit_code == 0
    for args in (("sample", changed.ref, "-n", "4", "-o", str(tmp_path / "b.png")),
                 ("export", changed.ref, "-o", str(tmp_path / "b.safetensors"))):
        result = cli(*args)
        assert result.exit_code == 1, result.output
        assert "was changed after mlp-numpy@2 was registered" in result.stderr
    assert not (tmp_path / "b.png").exists() and not (tmp_path / "b.safetensors").exists()


# -- file modes --------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_weights_and_checkpoints_honour_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        arrays = {"generator.0.weight": np.ones((2, 2), np.float32)}
        weights = write_weights(tmp_path / "w.safetensors", arrays, {"model_id": "x"})
        save_checkpoint(tmp_path / "c.safetensors", arrays, {"epoch": 0})
    finally:
        os.umask(old)
    for path in (weights, tmp_path / "c.safetensors"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_old_index_without_the_sha256_column_is_migrated(tmp_path):
    db = sqlite3.connect(tmp_path / "index.sqlite")
    db.executescript(runstore._SCHEMA.replace("    weights_sha256 TEXT,\n", ""))
    db.close()
    record = _register(RunStore(tmp_path))
    assert record.weights_sha256 and RunStore(tmp_path).resolve(record.ref) == record


def test_registration_waits_do_not_take_longer_than_the_patience(tmp_path):
    store = RunStore(tmp_path, busy_timeout=0.05, register_patience=0.5, notify=lambda m: None)
    lock = _hold_lock(store.db_path)
    start = time.monotonic()
    try:
        with pytest.raises(RegistrationPendingError):
            store.register(store.new_workdir(), _info())
    finally:
        lock.close()
    assert time.monotonic() - start < 5


# -- concurrency: four trainings and a reader into one home -----------------------------------

READER = """
import json, sys, time
from pathlib import Path
from ganzoo.store import RunStore
home, stop = Path(sys.argv[1]), Path(sys.argv[2])
reads, seen = 0, 0
while not stop.exists():
    seen = max(seen, len(RunStore(home).list()))
    reads += 1
    time.sleep(0.02)
print(json.dumps({"reads": reads, "seen": seen}))
"""


@pytest.mark.slow
@pytest.mark.torch
def test_four_trainings_and_a_reader_lose_no_version(tmp_path):
    home = tmp_path / "home"
    RunStore(home)
    env = dict(os.environ, GANZOO_HOME=str(home), GANZOO_PLUGINS="torch", OMP_NUM_THREADS="1")
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(home), str(stop)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    trainings = [subprocess.Popen(
        [sys.executable, "-m", "ganzoo", "train", "mlp-torch", "--data", "fashion", "--split",
         "bundled-test", "--epochs", "1", "--max-steps", "3", "--log-every", "1",
         "--seed", str(seed), "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in range(4)]
    outputs = [p.communicate(timeout=600) for p in trainings]
    stop.write_text("")
    read_out, read_err = reader.communicate(timeout=120)
    for proc, (out, err) in zip(trainings, outputs, strict=True):
        assert proc.returncode == 0, out + err
    assert reader.returncode == 0, read_err
    assert json.loads(read_out)["reads"] > 0

    store = RunStore(home)
    records = store.list()
    assert [r.version for r in records] == [1, 2, 3, 4]
    assert sorted(r.seed for r in records) == [0, 1, 2, 3]  # one version per training
    for record in records:
        assert record.status == "complete"
        assert store.verify_weights(record).is_file()
    assert store.disagreements() == [] and not list((home / "work").iterdir())


def test_read_only_home_for_real(tmp_path):
    """The same through real permissions: as an unprivileged user when run as root."""
    import shutil
    import tempfile

    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("root without setpriv: permissions cannot make a folder read-only")
    base = Path(tempfile.mkdtemp(prefix="ganzoo-ro-"))  # /tmp: reachable by another user
    try:
        home = base / "home"
        _register(RunStore(home))
        for path in [base, home, *home.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        prefix = (["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                  if os.geteuid() == 0 else [])
        env = dict(os.environ, GANZOO_HOME=str(home), HOME=str(base), COLUMNS="200")

        def ganzoo(*args):
            return subprocess.run([*prefix, sys.executable, "-m", "ganzoo", *args], env=env,
                                  capture_output=True, text=True, timeout=120)

        listed = ganzoo("runs")
        assert listed.returncode == 0 and "dcgan-torch@1" in listed.stdout, listed.stderr
        assert ganzoo("runs", "show", "dcgan-torch@1").returncode == 0
        removed = ganzoo("runs", "rm", "-y", "dcgan-torch@1")
        assert removed.returncode == 1 and "is read-only" in removed.stderr
        assert "Traceback" not in removed.stderr
    finally:
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755)
        shutil.rmtree(base)
