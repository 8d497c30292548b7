"""The shipped feature extractors, and the evaluator built on them, on real (bundled) images."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from ganzoo.catalog import Catalog
from ganzoo.data import load_dataset
from ganzoo.errors import UsageError, WeightsFileError
from ganzoo.metrics.extractor import WEIGHTS_DIR, card_path, load_extractor, weights_path
from ganzoo.weights import file_sha256

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Only the bundled test split is on 'disk'; caches go to a fresh folder."""
    monkeypatch.delenv("GANZOO_DATA", raising=False)
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def fashion_test():
    return load_dataset(None, "fashion", "bundled-test")


@pytest.mark.parametrize("dataset", ["fashion", "mnist"])
def test_shipped_extractor_card_and_checksum(dataset):
    card = json.loads(card_path(dataset).read_text())
    assert card["sha256"] == file_sha256(weights_path(dataset))
    assert card["command"] == f"python -m tools.extractor.train --data {dataset}"
    assert card["trained_on"] and card["accuracy_on"]
    extractor = load_extractor(dataset)
    assert extractor.feature_dim == 128 and extractor.num_classes == 10
    assert weights_path(dataset).stat().st_size < 2_000_000  # small enough to ship


def test_fashion_extractor_accuracy_meets_the_target(fashion_test):
    assert json.loads(card_path("fashion").read_text())["accuracy"] >= 0.90
    # And the numpy forward pass really classifies: 1,000 test images.
    _, probs = load_extractor("fashion").features_and_probs(fashion_test.images[:1000])
    assert (probs.argmax(1) == fashion_test.labels[:1000]).mean() >= 0.88


def test_mnist_extractor_says_what_it_was_trained_on():
    card = json.loads(card_path("mnist").read_text())
    assert "8,000" in card["trained_on"] and "t10k" in card["trained_on"]
    assert "2,000" in card["accuracy_on"] and card["accuracy"] >= 0.95


@pytest.mark.slow  # importing torch takes seconds
@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_numpy_forward_matches_the_torch_network(fashion_test):
    from safetensors.numpy import load_file

    from ganzoo.frameworks import import_torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/ lives in the checkout
    from tools.extractor.net import load_net

    torch = import_torch()
    net = load_net(load_file(str(weights_path("fashion"))))
    images = fashion_test.images[:64]
    x = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0)
    with torch.no_grad():
        feats_t = net.features(x).numpy()
        probs_t = torch.softmax(net(x), 1).numpy()
    extractor = load_extractor("fashion")
    feats, probs = extractor.features_and_probs(images)
    np.testing.assert_allclose(feats, feats_t * extractor.scale, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(probs, probs_t, rtol=1e-4, atol=1e-5)


def test_float_images_take_the_uint8_path(fashion_test):
    extractor = load_extractor("fashion")
    images = fashion_test.images[:20]
    as_float = images.astype(np.float32) / 127.5 - 1.0
    a, _ = extractor.features_and_probs(images)
    b, _ = extractor.features_and_probs(as_float)
    np.testing.assert_array_equal(a, b)


def test_a_changed_extractor_file_is_refused(tmp_path):
    for path in (weights_path("fashion"), card_path("fashion")):
        shutil.copy(path, tmp_path / path.name)
    card = json.loads((tmp_path / "fashion-extractor.json").read_text())
    card["sha256"] = "0" * 64
    (tmp_path / "fashion-extractor.json").write_text(json.dumps(card))
    with pytest.raises(WeightsFileError, match="sha256"):
        load_extractor("fashion", tmp_path)


def test_a_dataset_without_extractor_says_how_to_train_one():
    with pytest.raises(UsageError, match=r"tools\.extractor\.train --data cifar"):
        load_extractor("cifar", WEIGHTS_DIR)


def test_evaluator_known_answers_on_real_images(offline, fashion_test):
    from ganzoo.evaluation import Evaluator
    from ganzoo.metrics.reference import metrics_cache_dir

    catalog = Catalog.load(entry_points=False)
    ev = Evaluator(catalog, "fashion", n=400, seed=0)
    assert ev.protocol["real_split"] == "test" and ev.protocol["real_n"] == 400
    assert "bundled" in ev.protocol["real_source"]

    # The reference images themselves: a perfect generator.
    index = np.sort(np.random.default_rng(0).choice(10_000, 400, replace=False))
    same = ev.measure_images(fashion_test.images[index])
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert same["precision"] == 1.0 and same["recall"] == 1.0

    # One class only: low coverage, a large FID, poor recall.
    trousers = fashion_test.images[fashion_test.labels == 1][:400]
    collapsed = ev.measure_images(trousers)
    assert collapsed["coverage"] <= 0.2 and collapsed["class_entropy"] < 0.3
    assert collapsed["recall"] < 0.3

    # The floor: no train split on disk here, so two halves of the test split.
    floor = ev.floor
    assert "two disjoint sets" in floor["method"] and floor["real_n"] == 400
    assert 0 < floor["fid"] < collapsed["fid"] / 5
    assert floor["coverage"] == 1.0

    # Reference features and the floor are cached for the next evaluation.
    cached = sorted(p.name for p in metrics_cache_dir().iterdir())
    assert any(name.startswith("fashion-test-n400-seed0-") for name in cached)
    assert any(name.startswith("floor-fashion-") for name in cached)
    again = Evaluator(catalog, "fashion", n=400, seed=0)
    np.testing.assert_array_equal(again.reference.feats.features, ev.reference.feats.features)
    assert again.floor == floor
