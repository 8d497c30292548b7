"""The metrics on cases with known answers (numpy only; cross-checks with torchmetrics/scipy)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ganzoo.metrics import classes, kid, manifold
from ganzoo.metrics.fid import GaussianStats, fid, frechet_distance, gaussian_stats
from ganzoo.metrics.protocol import differences, protocol_key

HAS_TORCHMETRICS = importlib.util.find_spec("torchmetrics") is not None
HAS_SCIPY = importlib.util.find_spec("scipy") is not None


def _features(n: int = 2000, d: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mixing + rng.standard_normal(d)


# -- FID ------------------------------------------------------------------------------------


def test_fid_of_identical_sets_is_zero():
    x = _features()
    assert fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_a_shifted_set_is_the_squared_shift():
    x = _features()
    shift = np.full(x.shape[1], 0.5)
    # Same covariance, means apart by the shift: FID = |shift|^2 exactly.
    assert fid(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-9)
    # It grows as the squared shift: twice the shift, four times the FID; half, a quarter.
    assert fid(x, x + 2 * shift) == pytest.approx(4 * float(shift @ shift), rel=1e-9)
    assert fid(x, x + shift / 2) == pytest.approx(float(shift @ shift) / 4, rel=1e-9)


def test_fid_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    got = frechet_distance(GaussianStats(mu1, np.diag(v1), 10), GaussianStats(mu2, np.diag(v2), 10))
    assert got == pytest.approx(expected, rel=1e-10)


def test_fid_grows_with_distance_between_distributions():
    x, y = _features(seed=0), _features(seed=1)  # different random mixings
    near = fid(x, x + 0.1)
    assert fid(x, y) > near > 0
    assert fid(x, x * 2.0) > 0  # same mean, scaled covariance


@pytest.mark.skipif(not HAS_SCIPY, reason="scipy not installed")
def test_fid_matches_the_sqrtm_formula_on_non_commuting_covariances():
    from scipy import linalg

    a, b = gaussian_stats(_features(seed=2)), gaussian_stats(_features(seed=3))
    covmean = linalg.sqrtm(a.sigma @ b.sigma).real
    reference = ((a.mu - b.mu) ** 2).sum() + np.trace(a.sigma + b.sigma - 2 * covmean)
    assert frechet_distance(a, b) == pytest.approx(reference, rel=1e-6)


def test_fid_handles_singular_covariances():
    x = _features(d=8)
    x[:, 3] = 0.0  # a dead feature, as ReLU features have
    assert fid(x, x) == pytest.approx(0.0, abs=1e-8)
    assert np.isfinite(fid(x, x + 1.0))


class _Identity:
    """A torchmetrics 'feature extractor' that passes precomputed features through."""

    @staticmethod
    def make(dim: int):
        import torch

        class Identity(torch.nn.Module):
            num_features = dim

            def forward(self, x):
                return x

        return Identity()


@pytest.mark.slow  # importing torch takes seconds
@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
@pytest.mark.skipif(not HAS_TORCHMETRICS, reason="torchmetrics not installed")
def test_fid_and_kid_agree_with_torchmetrics():
    from ganzoo.frameworks import import_torch

    torch = import_torch()
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _features(500, 8, seed=4), _features(500, 8, seed=5)
    metric = FrechetInceptionDistance(feature=_Identity.make(8), normalize=True)
    metric.set_dtype(torch.float64)
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    assert fid(real, fake) == pytest.approx(float(metric.compute()), rel=1e-6)

    # One subset holding every sample: the estimate has no randomness left to differ by.
    tm_kid = KernelInceptionDistance(feature=_Identity.make(8), subsets=1, subset_size=500,
                                     normalize=True)
    tm_kid.set_dtype(torch.float64)
    tm_kid.update(torch.from_numpy(real), real=True)
    tm_kid.update(torch.from_numpy(fake), real=False)
    expected = float(tm_kid.compute()[0])
    assert kid.kid(real, fake, subset_size=500, subsets=1)[0] == pytest.approx(expected, rel=1e-9)


# -- KID ------------------------------------------------------------------------------------


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    x, y = _features(2000, seed=0), _features(2000, seed=0)[::-1]  # same points, reordered
    same, spread = kid.kid(x, y, subset_size=300, subsets=8)
    assert abs(same) < 0.05
    # The spread over 8 random subsets of 300 is a real standard deviation (measured 0.054),
    # not 0: the subsets differ (a spread of one subset repeated would show), and of the
    # order of the estimate's own noise.
    assert 0.005 < spread < 0.2
    shifted = kid.kid(x, x + 1.0, subset_size=300, subsets=8)[0]
    assert shifted > 10 * max(abs(same), 1e-3)
    assert kid.kid(x, x + 2.0, subset_size=300, subsets=8)[0] > shifted


def test_kid_is_reproducible_with_its_seed():
    x, y = _features(800, seed=0), _features(800, seed=1)
    assert kid.kid(x, y, 200, 5, seed=3) == kid.kid(x, y, 200, 5, seed=3)


# -- precision and recall -------------------------------------------------------------------


def test_precision_and_recall_of_identical_sets_are_one():
    x = _features(600)
    assert manifold.precision_recall(x, x) == (1.0, 1.0)


def test_far_apart_sets_have_zero_precision_and_recall():
    x = _features(400)
    assert manifold.precision_recall(x, x + 1000.0) == (0.0, 0.0)


def test_a_collapsed_generator_is_precise_but_has_low_recall():
    real = _features(1000)
    centre = real[np.argmin(np.linalg.norm(real - real.mean(0), axis=1))]
    rng = np.random.default_rng(1)
    fake = centre + 1e-3 * rng.standard_normal((1000, real.shape[1]))  # one mode only
    precision, recall = manifold.precision_recall(real, fake)
    assert precision > 0.95 and recall < 0.05


def test_knn_radius_is_the_kth_neighbour():
    x = np.array([[0.0], [1.0], [3.0], [6.0], [10.0]])
    # Squared distances to the 3rd nearest other point.
    np.testing.assert_allclose(manifold.knn_radii(x, k=3), [36.0, 25.0, 9.0, 25.0, 81.0])


# -- classifier-based scores ----------------------------------------------------------------


def test_inception_like_score_bounds():
    confident = np.eye(10)[np.arange(1000) % 10]
    assert classes.inception_like_score(confident, splits=10)[0] == pytest.approx(10.0, rel=1e-6)
    one_class = np.eye(10)[np.zeros(1000, dtype=int)]
    assert classes.inception_like_score(one_class)[0] == pytest.approx(1.0)
    unsure = np.full((1000, 10), 0.1)
    assert classes.inception_like_score(unsure)[0] == pytest.approx(1.0)


def test_a_single_class_generator_has_low_coverage():
    shares = np.full(10, 0.1)
    one_class = np.eye(10)[np.full(500, 3)]
    out = classes.class_coverage(one_class, shares)
    assert out["coverage"] == pytest.approx(0.1)
    assert out["class_entropy"] == pytest.approx(0.0)
    assert out["class_histogram"] == [0, 0, 0, 500, 0, 0, 0, 0, 0, 0]
    assert out["classes_missing"] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert out["class_tv"] == pytest.approx(0.9)

    balanced = np.eye(10)[np.arange(500) % 10]
    out = classes.class_coverage(balanced, shares)
    assert out["coverage"] == 1.0 and out["class_entropy"] == pytest.approx(1.0)


def test_class_shares():
    np.testing.assert_allclose(classes.class_shares(np.array([0, 0, 1, 3]), 4),
                               [0.5, 0.25, 0.0, 0.25])


# -- protocols ------------------------------------------------------------------------------


def _protocol(**kw) -> dict:
    base = {"dataset": "fashion", "n": 10000, "seed": 0, "real_split": "test", "real_n": 10000,
            "real_source": "somewhere", "extractor": {"name": "fashion-extractor",
                                                      "sha256": "ab" * 32, "accuracy": 0.9},
            "metrics": {"kid_subset_size": 1000}, "ganzoo_version": "0.1.0"}
    base.update(kw)
    return base


def test_protocol_key_ignores_informational_fields_only():
    assert protocol_key(_protocol()) == protocol_key(_protocol(ganzoo_version="9.9",
                                                               real_source="elsewhere"))
    assert protocol_key(_protocol()) != protocol_key(_protocol(n=5000))
    other = _protocol(extractor={"name": "fashion-extractor", "sha256": "cd" * 32})
    assert protocol_key(_protocol()) != protocol_key(other)
    assert differences(_protocol(), _protocol(n=5000)) == ["n: 10000 vs 5000"]
    assert differences(_protocol(), _protocol(ganzoo_version="2")) == []


def test_kid_gives_the_same_numbers_with_and_without_precomputed_kernels(monkeypatch):
    x, y = _features(300, seed=0), _features(300, seed=1)
    whole = kid.kid(x, y, 100, 5, seed=1)
    monkeypatch.setattr(kid, "FULL_KERNEL_BYTES", 0)
    assert kid.kid(x, y, 100, 5, seed=1) == pytest.approx(whole, rel=1e-12)
