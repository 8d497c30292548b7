"""Density and coverage (Naeem et al. 2020) against a brute-force reference and known cases."""

from __future__ import annotations

import numpy as np
import pytest

from ganzoo.metrics import manifold
from ganzoo.metrics.suite import HIGHER_IS_BETTER, FeatureSet, MetricSettings, measure


def _brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """The paper's definitions, one loop per sample, Euclidean distances (not squared)."""
    n = len(real)
    radii = np.empty(n)
    for i in range(n):
        dists = sorted(np.linalg.norm(real[i] - real[j]) for j in range(n) if j != i)
        radii[i] = dists[k - 1]  # k-th nearest *other* real sample
    inside = np.array([[np.linalg.norm(y - real[i]) <= radii[i] for i in range(n)]
                       for y in fake])  # (M, N)
    density = inside.sum() / (k * len(fake))
    coverage = inside.any(axis=0).mean()
    return float(density), float(coverage)


@pytest.mark.parametrize("seed, n, m, d, k", [(0, 60, 45, 4, 5), (1, 40, 70, 8, 3),
                                              (2, 30, 30, 2, 1)])
def test_density_and_coverage_match_a_brute_force_reference(seed, n, m, d, k, monkeypatch):
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((m, d)) * 1.3 + 0.4  # overlapping but different
    # Small chunks, so the chunked loop is exercised across several blocks.
    monkeypatch.setattr(manifold, "CHUNK", 7)
    density, coverage = manifold.density_coverage(real, fake, k)
    want_density, want_coverage = _brute_force(real, fake, k)
    assert density == pytest.approx(want_density, abs=1e-12)
    assert coverage == pytest.approx(want_coverage, abs=1e-12)
    assert 0.0 < coverage < 1.0 and density > 0.0  # a case where both are informative


def test_identical_sets_have_full_coverage_and_density_near_one():
    x = np.random.default_rng(3).standard_normal((2000, 8))
    density, coverage = manifold.density_coverage(x, x)
    assert coverage == 1.0
    # Each point lies in its own ball and about k others: density ~ (1 + k) / k, near 1.
    assert 1.0 <= density <= 1.0 + 2.0 / manifold.DC_K


def test_two_samples_of_one_distribution_score_about_one():
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((3000, 8)), rng.standard_normal((3000, 8))
    density, coverage = manifold.density_coverage(real, fake)
    assert 0.85 < density < 1.15
    assert 0.95 < coverage <= 1.0  # expected 1 - 2^-k-ish; Naeem et al. report ~0.97


def test_far_apart_sets_have_zero_density_and_coverage():
    x = np.random.default_rng(5).standard_normal((300, 8))
    assert manifold.density_coverage(x, x + 1000.0) == (0.0, 0.0)


def test_collapse_keeps_density_but_loses_coverage():
    rng = np.random.default_rng(6)
    real = rng.standard_normal((2000, 8))
    fake = np.repeat(real[:10], 200, axis=0)  # 10 real samples, each 200 times
    density, coverage = manifold.density_coverage(real, fake)
    assert coverage <= 10 * (manifold.DC_K + 1) / len(real) + 0.01  # only balls near the 10
    assert density > 0.5  # every sample is real, so it sits in real balls


def test_outliers_do_not_inflate_density_and_coverage_as_they_do_recall():
    """Naeem et al.'s motivating case: a few far outliers among generated samples."""
    rng = np.random.default_rng(7)
    real = rng.standard_normal((1000, 4))
    fake = np.concatenate([real[:20] * 0.01, rng.standard_normal((5, 4)) * 30.0])
    _, recall = manifold.precision_recall(real, fake, k=3)
    density, coverage = manifold.density_coverage(real, fake)
    assert recall > 0.5  # huge balls around the outliers swallow the real set
    assert coverage < 0.1 and density < 1.0


def test_needs_more_real_samples_than_k():
    with pytest.raises(ValueError, match="more than k"):
        manifold.density_coverage(np.zeros((5, 2)), np.zeros((3, 2)), k=5)


def test_the_suite_reports_density_and_knn_coverage():
    rng = np.random.default_rng(8)
    real = FeatureSet(rng.standard_normal((300, 6)), np.full((300, 10), 0.1))
    same = measure(real, real, np.full(10, 0.1), MetricSettings(kid_subset_size=100))
    assert same["knn_coverage"] == 1.0 and same["density"] >= 1.0
    assert "coverage" in same  # class coverage is still reported, under its own key
    far = FeatureSet(real.features + 100.0, real.probs)
    moved = measure(far, real, np.full(10, 0.1), MetricSettings(kid_subset_size=100))
    assert moved["knn_coverage"] == 0.0 and moved["density"] == 0.0
    # Asymmetric: 10 real samples repeated. Coverage is over the *real* balls, so it is low.
    collapsed = FeatureSet(np.repeat(real.features[:10], 30, axis=0), real.probs)
    low = measure(collapsed, real, np.full(10, 0.1), MetricSettings(kid_subset_size=100))
    assert low["knn_coverage"] < 0.3 and low["density"] > 0.5
    assert HIGHER_IS_BETTER["density"] and HIGHER_IS_BETTER["knn_coverage"]
    assert MetricSettings().to_dict()["dc_k"] == manifold.DC_K == 5
