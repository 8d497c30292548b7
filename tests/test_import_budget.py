"""An imported weights file keeps its budget: the steps (and step cap) its metadata records."""

from __future__ import annotations

from export_support import numpy_catalog, write_file

from ganzoo.compare.budget import budget_of
from ganzoo.exchange import import_file
from ganzoo.store import RunStore

CATALOG = numpy_catalog()


def test_import_reads_steps_and_cap_from_the_metadata(tmp_path):
    store = RunStore(tmp_path / "home")
    path = write_file(tmp_path / "run.safetensors", CATALOG, steps=10, max_steps=5,
                      batch_size=32)
    record = import_file(CATALOG, store, path).record
    assert record is not None and record.steps == 10
    budget = budget_of(record)
    assert (budget.images_seen, budget.max_steps) == (320, 5)


def test_a_file_without_steps_imports_with_none_and_an_override_wins(tmp_path):
    store = RunStore(tmp_path / "home")
    path = write_file(tmp_path / "old.safetensors", CATALOG)
    assert import_file(CATALOG, store, path).record.steps == 0
    assert import_file(CATALOG, store, path, steps=7).record.steps == 7
