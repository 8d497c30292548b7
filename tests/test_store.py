"""The registry of trained versions: references, atomic registration, concurrency, crashes."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from ganzoo.errors import RegistryError, UsageError
from ganzoo.store import RunStore, parse_ref


def _info(model_id: str = "dcgan-torch", **kw) -> dict:
    base = dict(model_id=model_id, status="complete", family="dcgan", backend="torch",
                recipe="seed000", dataset="fashion", split="train", epochs=1, steps=10, seed=0,
                wall_time_s=1.5, images_per_s=100.0, final_metrics={"d_loss": 1.0},
                parent=None)
    base.update(kw)
    return base


def _register(store: RunStore, **kw):
    work = store.new_workdir()
    (work / "weights.safetensors").write_bytes(b"x")
    return store.register(work, _info(**kw))


def test_parse_ref():
    assert parse_ref("dcgan-torch").version is None
    assert parse_ref("dcgan-torch@latest").version is None
    assert parse_ref("dcgan-torch@3").version == 3
    assert str(parse_ref("dcgan-torch@3")) == "dcgan-torch@3"
    for bad in ("@3", "dcgan-torch@0", "dcgan-torch@x"):
        with pytest.raises(UsageError):
            parse_ref(bad)


def test_versions_are_numbered_per_model_and_resolve(tmp_path):
    store = RunStore(tmp_path)
    a1 = _register(store)
    a2 = _register(store, status="interrupted")
    b1 = _register(store, model_id="mlp-keras", family="mlp", backend="keras")
    assert (a1.version, a2.version, b1.version) == (1, 2, 1)
    assert store.resolve("dcgan-torch@latest").version == 2
    assert store.resolve("dcgan-torch@1").status == "complete"
    assert (a2.path / "weights.safetensors").is_file()
    assert a2.path == tmp_path / "models" / "dcgan-torch" / "2"
    assert [r.ref for r in store.list()] == ["dcgan-torch@1", "dcgan-torch@2", "mlp-keras@1"]
    assert [r.ref for r in store.list(dataset="mnist")] == []
    with pytest.raises(RegistryError, match="versions of dcgan-torch: 1, 2"):
        store.resolve("dcgan-torch@7")
    with pytest.raises(RegistryError, match="ganzoo train combined-torch"):
        store.resolve("combined-torch")


def test_remove_deletes_row_and_folder(tmp_path):
    store = RunStore(tmp_path)
    record = _register(store)
    store.remove(record.ref)
    assert not record.path.exists()
    with pytest.raises(RegistryError):
        store.resolve(record.ref)
    # a removed number is not reused while later ones exist, and the next one follows the max
    assert _register(store).version == 1


def test_evaluations_attach_to_a_version(tmp_path):
    store = RunStore(tmp_path)
    record = _register(store)
    store.add_evaluation(record.ref, {"n": 100, "seed": 0}, {"fid": 12.5})
    again = store.resolve(record.ref)
    assert again.evaluations[0]["results"] == {"fid": 12.5}
    assert again.evaluations[0]["protocol"] == {"n": 100, "seed": 0}


def _register_in_process(home: str) -> int:
    store = RunStore(home)
    return _register(store).version


def test_concurrent_registrations_get_distinct_versions(tmp_path):
    RunStore(tmp_path)  # create the schema once
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        versions = pool.map(_register_in_process, [str(tmp_path)] * 12)
    assert sorted(versions) == list(range(1, 13))
    store = RunStore(tmp_path)
    assert len(store.list()) == 12
    assert sorted(int(p.name) for p in (tmp_path / "models" / "dcgan-torch").iterdir()) == \
        list(range(1, 13))


KILLED_WRITER = textwrap.dedent("""
    import os, sys
    from ganzoo.store import RunStore
    store = RunStore(sys.argv[1])
    work = store.new_workdir()
    # Die inside the registration transaction, after the folder moved into place but before
    # the row is committed: the index must stay consistent.
    real_replace = os.replace
    def replace_then_die(src, dst):
        real_replace(src, dst)
        if os.path.basename(os.path.dirname(dst)) == "dcgan-torch":
            os._exit(9)
    os.replace = replace_then_die
    store.register(work, {info!r})
""")


def test_index_survives_a_killed_writer(tmp_path):
    store = RunStore(tmp_path)
    _register(store)
    script = KILLED_WRITER.format(info=_info())
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True)
    assert proc.returncode == 9
    # The index opens, still holds exactly the committed version, and passes an integrity check.
    with sqlite3.connect(tmp_path / "index.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = RunStore(tmp_path)
    assert [r.ref for r in store.list()] == ["dcgan-torch@1"]
    # The orphaned folder's number (2) is skipped, never overwritten.
    assert (tmp_path / "models" / "dcgan-torch" / "2").exists()
    assert _register(store).version == 3


def test_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "elsewhere"))
    store = RunStore()
    assert store.home == tmp_path / "elsewhere"
    assert os.path.exists(store.db_path)


def test_processes_opening_a_fresh_index_at_once_all_succeed(tmp_path):
    # Two torchrun ranks (or two trainings) creating the index together once raised
    # "database is locked" while switching to WAL.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        versions = pool.map(_register_in_process, [str(tmp_path / "fresh")] * 6)
    assert sorted(versions) == list(range(1, 7))
