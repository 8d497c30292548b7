"""Records that must not lie: a removed version's scores, out-of-range labels, and a weights
file whose image shape contradicts its card."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from export_support import cli_store, numpy_catalog, register_version, write_file

from ganzoo.data.builtin import FASHION
from ganzoo.data.errors import DatasetMismatchError
from ganzoo.data.verify import check_labels
from ganzoo.errors import WeightsFileError
from ganzoo.store import RunStore
from ganzoo.weights.loading import check_file

CATALOG = numpy_catalog()


# -- runs rm and evaluations -----------------------------------------------------------------


def _evaluation_rows(store: RunStore) -> list[tuple]:
    with closing(sqlite3.connect(store.db_path)) as db:
        return db.execute("SELECT model_id, version FROM evaluations ORDER BY version").fetchall()


def test_runs_rm_takes_the_evaluations_with_it(tmp_path: Path, monkeypatch, cli) -> None:
    store = cli_store(tmp_path / "home", monkeypatch, CATALOG)
    register_version(store, CATALOG)
    second = register_version(store, CATALOG, seed=1)
    store.add_evaluation("mlp-numpy@1", {"n": 100}, {"fid": 40.0})
    store.add_evaluation(second.ref, {"n": 100}, {"fid": 12.5})
    result = cli("runs", "rm", second.ref, "--yes")
    assert result.exit_code == 0, result.output
    assert _evaluation_rows(store) == [("mlp-numpy", 1)]  # version 1's scores are kept
    # The number is free again (it was the latest): the new version 2 starts unscored.
    reused = register_version(store, CATALOG, seed=2)
    assert reused.ref == second.ref
    assert store.resolve(reused.ref).evaluations == []
    shown = cli("runs", "show", reused.ref)
    assert shown.exit_code == 0, shown.output
    assert "12.5" not in shown.output
    assert [e["results"] for e in store.resolve("mlp-numpy@1").evaluations] == [{"fid": 40.0}]


# -- the label range -------------------------------------------------------------------------


def test_labels_must_be_below_the_class_count() -> None:
    n = len(FASHION.classes)
    check_labels(np.arange(n, dtype=np.uint8), FASHION, "ok")  # 0 .. n-1: every class
    with pytest.raises(DatasetMismatchError, match=rf"label {n} at index 3, .* {n} classes"):
        check_labels(np.array([0, 1, n - 1, n, 0], np.uint8), FASHION, "labels.idx")


def test_negative_labels_are_refused() -> None:
    # A signed .npz label array: -1 would silently become 255 as uint8.
    with pytest.raises(DatasetMismatchError, match=r"label -1 at index 1"):
        check_labels(np.array([0, -1, 3], np.int16), FASHION, "labels.npz")


def test_a_dataset_with_a_label_equal_to_the_class_count_is_refused() -> None:
    # The same check through a dataset spec with fewer classes: label 9 is then out of range.
    nine = dataclasses.replace(FASHION, classes=FASHION.classes[:9])
    with pytest.raises(DatasetMismatchError, match=r"label 9 at index 0, but fashion has 9"):
        check_labels(np.array([9, 0], np.uint8), nine, "labels.idx")


# -- image_shape against the card ------------------------------------------------------------


@pytest.mark.parametrize("shape", [[32, 32, 1], [28, 28, 3], [1, 28, 28]])
def test_weights_whose_image_shape_contradicts_the_card_are_refused(tmp_path: Path,
                                                                    shape) -> None:
    path = write_file(tmp_path / "w.safetensors", CATALOG, image_shape=shape)
    with pytest.raises(WeightsFileError) as info:
        check_file(CATALOG, path)
    message = str(info.value)
    assert f"image_shape = {shape!r}" in message and "[28, 28, 1]" in message
    assert str(path) in message


def test_weights_with_the_cards_image_shape_are_accepted(tmp_path: Path) -> None:
    path = write_file(tmp_path / "w.safetensors", CATALOG, image_shape=[28, 28, 1])
    assert check_file(CATALOG, path).meta["image_shape"] == [28, 28, 1]
    assert json.loads(json.dumps(check_file(CATALOG, path).meta))["latent_dim"] == 100
