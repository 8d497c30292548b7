"""ganzoo.store.layout: the version record spelled once, the index derived from it."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import fields
from pathlib import Path

import pytest

from ganzoo.errors import RegistryError
from ganzoo.store import RunStore, RunSummary, VersionRecord
from ganzoo.store.layout import (
    INDEX_COLUMNS,
    PENDING_NAME,
    VERSION_NAME,
    WEIGHTS_NAME,
    versions_table_sql,
)

# The index every earlier release wrote: a fresh index must have exactly these columns, so
# old and new homes read alike.
OLD_COLUMNS = {
    "model_id": "TEXT", "version": "INTEGER", "status": "TEXT", "family": "TEXT",
    "backend": "TEXT", "recipe": "TEXT", "dataset": "TEXT", "split": "TEXT",
    "epochs": "INTEGER", "steps": "INTEGER", "seed": "INTEGER", "wall_time_s": "REAL",
    "images_per_s": "REAL", "final_metrics": "TEXT", "parent": "TEXT", "created": "REAL",
    "path": "TEXT", "weights_sha256": "TEXT",
}
NULLABLE = {"parent", "weights_sha256"}


def _summary(**kw) -> RunSummary:
    base = dict(model_id="dcgan-torch", status="complete", family="dcgan", backend="torch",
                recipe="seed000", dataset="fashion", split="train", epochs=2, steps=10,
                seed=3, wall_time_s=1.5, images_per_s=100.0,
                final_metrics={"d_loss": 1.0}, parent=None)
    return RunSummary(**{**base, **kw})


def _columns(db_path: Path) -> dict[str, tuple[str, bool]]:
    with closing(sqlite3.connect(db_path)) as db:
        return {r[1]: (r[2], bool(r[3])) for r in db.execute("PRAGMA table_info(versions)")}


def test_the_derived_table_has_the_old_columns_types_and_nullability(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    columns = _columns(store.db_path)
    assert {name: kind for name, (kind, _) in columns.items()} == OLD_COLUMNS
    assert {name for name, (_, notnull) in columns.items() if not notnull} == NULLABLE
    assert set(INDEX_COLUMNS) == set(OLD_COLUMNS)
    assert "PRIMARY KEY (model_id, version)" in versions_table_sql()


def test_every_record_field_but_evaluations_is_a_column() -> None:
    names = [f.name for f in fields(VersionRecord)]
    assert [n for n in names if n != "evaluations"] == list(INDEX_COLUMNS)
    # the summary is the record less what registration assigns
    assert {f.name for f in fields(RunSummary)} == set(names) - {
        "version", "created", "path", "weights_sha256", "evaluations"}


def test_a_summary_registers_and_reads_back_field_for_field(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    work = store.new_workdir()
    (work / WEIGHTS_NAME).write_bytes(b"w")
    summary = _summary(parent="dcgan-torch@1", final_metrics={"g_loss": 0.25})
    record = store.register(work, summary)
    again = store.resolve(record.ref)
    assert again == record
    for name in summary.to_dict():
        assert getattr(again, name) == getattr(summary, name), name
    assert again.path == tmp_path / "models" / "dcgan-torch" / "1"
    assert again.weights_sha256 is not None
    # version.json carries the same record; reindex rebuilds it field for field
    saved = json.loads((record.path / VERSION_NAME).read_text())
    assert saved["final_metrics"] == {"g_loss": 0.25} and saved["parent"] == "dcgan-torch@1"
    assert not (record.path / PENDING_NAME).exists()
    records, skipped = store.reindex()
    assert skipped == [] and records == [record]


def test_a_dict_with_string_numbers_is_coerced(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    info = {**_summary().to_dict(), "epochs": "4", "seed": "7", "wall_time_s": "2"}
    record = store.register(store.new_workdir(), info)
    assert (record.epochs, record.seed, record.wall_time_s) == (4, 7, 2.0)
    assert isinstance(store.resolve(record.ref).epochs, int)


@pytest.mark.parametrize("change", [{"colour": "red"}, {"seed": None}, {"status": "done"}])
def test_a_bad_summary_is_refused_before_anything_moves(tmp_path: Path, change) -> None:
    store = RunStore(tmp_path)
    work = store.new_workdir()
    info = {k: v for k, v in {**_summary().to_dict(), **change}.items() if v is not None}
    with pytest.raises(RegistryError):
        store.register(work, info)
    assert work.is_dir() and store.list() == []


def test_a_version_json_with_a_bad_status_is_skipped_by_reindex(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    record = store.register(store.new_workdir(), _summary())
    data = json.loads((record.path / VERSION_NAME).read_text())
    (record.path / VERSION_NAME).write_text(json.dumps({**data, "status": "sideways"}))
    records, skipped = store.reindex()
    assert records == [] and len(skipped) == 1 and "sideways" in skipped[0]
