"""ganzoo.weights.generators: the one way from a weights file or a version to a generator.

The backend is the numpy plugin of export_support, so no framework is imported. Sampling,
evaluation and ``load`` all go through these functions; the tests check that each way in
builds the same generator and refuses the same bad inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from export_support import cli_store, numpy_catalog, register_version, write_file

from ganzoo import evaluation
from ganzoo.errors import IntegrityError, UnknownModelError, UsageError, WeightsFileError
from ganzoo.noise import draw_noise
from ganzoo.sampling import sample_grid, weights_path_for
from ganzoo.store import RunStore
from ganzoo.weights import WEIGHTS_NAME, read_weights, write_weights
from ganzoo.weights.generators import (
    generator_for,
    load_generator_from_file,
    load_version_generator,
    version_weights,
)
from ganzoo.weights.loading import check_file

CATALOG = numpy_catalog()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    return cli_store(tmp_path / "home", monkeypatch, CATALOG)


def _images(generator, meta: dict, n: int = 8) -> np.ndarray:
    return np.asarray(generator.generate(draw_noise(meta["noise"], n, meta["latent_dim"], 3)))


def test_a_file_and_its_version_give_the_same_generator(store: RunStore) -> None:
    record = register_version(store, CATALOG, seed=4)
    path, found = version_weights(record.ref, CATALOG, store)
    assert found == record and path == record.path / WEIGHTS_NAME
    assert weights_path_for(record.ref, CATALOG) == path
    from_file, meta = load_generator_from_file(CATALOG, path)
    from_version, version_meta = load_version_generator(CATALOG, record)
    from_eval, _ = evaluation.load_generator(CATALOG, record)
    assert meta == version_meta and meta["model_id"] == "mlp-numpy"
    expected = _images(from_file, meta)
    assert expected.shape == (8, 28, 28, 1) and np.isfinite(expected).all()
    np.testing.assert_array_equal(_images(from_version, meta), expected)
    np.testing.assert_array_equal(_images(from_eval, meta), expected)
    other = register_version(store, CATALOG, seed=5)  # other weights: other images
    assert not np.array_equal(_images(load_version_generator(CATALOG, other)[0], meta), expected)


def test_sampling_a_version_and_its_file_draw_the_same_grid(store: RunStore,
                                                            tmp_path: Path) -> None:
    record = register_version(store, CATALOG)
    by_ref = sample_grid(CATALOG, record.ref, n=9, output=tmp_path / "ref.png", seed=2)
    by_file = sample_grid(CATALOG, None, n=9, output=tmp_path / "file.png", seed=2,
                          weights=record.path / WEIGHTS_NAME)
    assert by_ref.read_bytes() == by_file.read_bytes()


def test_every_way_in_refuses_a_version_whose_weights_changed(store: RunStore) -> None:
    record = register_version(store, CATALOG)
    arrays, meta = read_weights(record.path / WEIGHTS_NAME)
    arrays = {k: v + 1.0 for k, v in arrays.items()}
    write_weights(record.path / WEIGHTS_NAME, arrays, meta)  # a valid file, not the registered one
    for load in (lambda: load_version_generator(CATALOG, record),
                 lambda: evaluation.load_generator(CATALOG, record),
                 lambda: version_weights(record.ref, CATALOG, store)):
        with pytest.raises(IntegrityError, match="sha256"):
            load()


def test_an_unknown_model_is_refused_before_the_store_is_read(store: RunStore) -> None:
    with pytest.raises(UnknownModelError):
        version_weights("mlp-nympy@1", CATALOG, store)


def test_a_backend_that_does_not_load_the_family_is_named(tmp_path: Path) -> None:
    checked = check_file(CATALOG, write_file(tmp_path / "f.safetensors", CATALOG))
    with pytest.raises(UsageError, match="Backends that can: numpy"):
        generator_for(CATALOG, checked, "jax")


def test_a_file_without_generator_tensors_cannot_be_sampled(tmp_path: Path) -> None:
    full = write_file(tmp_path / "full.safetensors", CATALOG)
    arrays, meta = read_weights(full)
    only_d = {k: v for k, v in arrays.items() if k.startswith("discriminator.")}
    path = write_weights(tmp_path / "d.safetensors", only_d,
                         {**meta, "parts": ["discriminator"], "part": "discriminator"})
    with pytest.raises(WeightsFileError, match="holds no generator tensors"):
        load_generator_from_file(CATALOG, path)
