"""FID, KID and the k-NN manifold metrics against brute-force numpy, written for the mutants
mutation testing left alive (docs/testing.md): input dtypes and sizes at their boundaries,
fitted statistics passed in place of features, the chunked loops with more than one chunk,
and the kernel-matrix shortcut of KID against the per-subset computation.
"""

from __future__ import annotations

import numpy as np
import pytest

from ganzoo.metrics import fid as fid_module
from ganzoo.metrics import kid as kid_module
from ganzoo.metrics import manifold
from ganzoo.metrics.fid import GaussianStats, fid, frechet_distance, gaussian_stats
from ganzoo.metrics.kid import kid, mmd2_unbiased, polynomial_kernel
from ganzoo.metrics.manifold import density_coverage, inside, knn_radii, precision_recall

RNG = np.random.default_rng(7)


# -- FID ------------------------------------------------------------------------------------

def test_gaussian_stats_are_float64_even_from_float32_features():
    # a large offset: float32 means and covariances lose the small spread
    x = (1e4 + RNG.standard_normal((50, 3)) * 1e-2).astype(np.float32)
    stats = gaussian_stats(x)
    exact = x.astype(np.float64)
    assert stats.mu.dtype == np.float64 and stats.sigma.dtype == np.float64
    np.testing.assert_allclose(stats.sigma, np.cov(exact, rowvar=False), rtol=1e-9)
    np.testing.assert_allclose(stats.mu, exact.mean(axis=0), rtol=1e-12)
    assert stats.n == 50


def test_gaussian_stats_take_two_rows_and_refuse_fewer_or_another_rank():
    two = np.array([[0.0, 1.0], [2.0, 5.0]])
    stats = gaussian_stats(two)
    np.testing.assert_allclose(stats.sigma, [[2.0, 4.0], [4.0, 8.0]])  # N - 1 = 1
    for bad, shape in [(np.zeros((1, 2)), "(1, 2)"), (np.zeros(5), "(5,)"),
                       (np.zeros((3, 2, 1)), "(3, 2, 1)")]:
        with pytest.raises(ValueError) as caught:
            gaussian_stats(bad)
        assert str(caught.value) == f"need (N >= 2, D) features, got shape {shape}"


def test_fid_of_diagonal_gaussians_is_the_closed_form():
    a = GaussianStats(np.array([0.0, 1.0, 2.0]), np.diag([1.0, 4.0, 9.0]), 10)
    b = GaussianStats(np.array([1.0, 1.0, 0.0]), np.diag([4.0, 1.0, 0.25]), 10)
    expected = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 0.5) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-12)
    assert fid(a, b) == pytest.approx(expected, rel=1e-12)  # fitted statistics pass through


def test_fid_takes_features_or_statistics_alike():
    x, y = RNG.standard_normal((40, 4)), RNG.standard_normal((30, 4)) * 2 + 1
    both = fid(x, y)
    assert fid(gaussian_stats(x), y) == pytest.approx(both, rel=1e-12)
    assert fid(x, gaussian_stats(y)) == pytest.approx(both, rel=1e-12)


def test_fid_of_a_non_symmetric_rounding_covariance_uses_its_symmetric_part():
    sigma = np.array([[2.0, 0.5], [0.5, 1.0]])
    skewed = sigma + np.array([[0.0, 1e-3], [-1e-3, 0.0]])  # same symmetric part
    a = GaussianStats(np.zeros(2), skewed, 5)
    b = GaussianStats(np.zeros(2), sigma, 5)
    assert frechet_distance(a, b) == pytest.approx(0.0, abs=1e-9)
    # a rank-deficient covariance (zero eigenvalue) is no problem for the square root
    flat = GaussianStats(np.zeros(2), np.diag([1.0, 0.0]), 5)
    assert frechet_distance(flat, GaussianStats(np.zeros(2), np.diag([1.0, 1.0]), 5)) == \
        pytest.approx(1.0, rel=1e-9)


# -- KID ------------------------------------------------------------------------------------

def brute_mmd2(x, y):
    m, d = len(x), x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_polynomial_kernel_and_the_unbiased_estimate_match_a_loop():
    x, y = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3)) + 0.5
    np.testing.assert_allclose(polynomial_kernel(x, y), (x @ y.T / 3 + 1) ** 3, rtol=1e-12)
    got = mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))
    assert got == pytest.approx(brute_mmd2(x, y), rel=1e-10)


def test_kid_is_the_mean_and_spread_over_subsets_of_the_capped_size():
    x, y = RNG.standard_normal((7, 3)), RNG.standard_normal((6, 3)) + 0.3
    mean, spread = kid(x, y, subset_size=50, subsets=4, seed=3)
    rng = np.random.default_rng(3)
    values = []
    for _ in range(4):
        r, f = rng.choice(7, 6, replace=False), rng.choice(6, 6, replace=False)
        values.append(brute_mmd2(x[r], y[f]))
    assert mean == pytest.approx(np.mean(values), rel=1e-10)
    assert spread == pytest.approx(np.std(values, ddof=1), rel=1e-10)


def test_kid_without_the_kernel_shortcut_gives_the_same_values(monkeypatch):
    x, y = RNG.standard_normal((12, 4)), RNG.standard_normal((9, 4)) * 1.5
    shortcut = kid(x, y, subset_size=5, subsets=6, seed=1)
    monkeypatch.setattr(kid_module, "FULL_KERNEL_BYTES", 3 * 12**2 * 8 - 1)
    direct = kid(x, y, subset_size=5, subsets=6, seed=1)
    np.testing.assert_allclose(direct, shortcut, rtol=1e-10)
    monkeypatch.setattr(kid_module, "FULL_KERNEL_BYTES", 3 * 12**2 * 8)
    np.testing.assert_allclose(kid(x, y, subset_size=5, subsets=6, seed=1), shortcut, rtol=1e-10)


def test_kid_with_one_subset_has_no_spread_and_two_samples_are_enough():
    x, y = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 3))
    mean, spread = kid(x, y, subsets=1)
    assert spread == 0.0 and np.isfinite(mean)
    with pytest.raises(ValueError) as caught:
        kid(x[:1], y)
    assert str(caught.value) == "KID needs at least two samples in each set"
    with pytest.raises(ValueError):
        kid(x, y, subset_size=1)


def test_kid_takes_float32_features_as_float64():
    x = (RNG.standard_normal((6, 3)) * 100).astype(np.float32)
    y = (RNG.standard_normal((6, 3)) * 100).astype(np.float32)
    got = kid(x, y, subset_size=6, subsets=2)
    want = kid(x.astype(np.float64), y.astype(np.float64), subset_size=6, subsets=2)
    assert got == want


# -- precision, recall, density, coverage ---------------------------------------------------

def brute_radii(x, k):
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return np.sort(d, axis=1)[:, k]


def test_knn_radii_in_several_chunks_match_a_sort(monkeypatch):
    x = RNG.standard_normal((11, 2))
    monkeypatch.setattr(manifold, "CHUNK", 4)
    np.testing.assert_allclose(knn_radii(x, 3), brute_radii(x, 3), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(knn_radii(x, 1), brute_radii(x, 1), rtol=1e-9, atol=1e-12)
    assert knn_radii(x.astype(np.float32), 3).dtype == np.float64


def test_knn_radii_need_more_than_k_points():
    assert knn_radii(np.array([[0.0], [1.0], [3.0], [7.0]]), 3).tolist() == [49.0, 36.0, 16.0,
                                                                             49.0]
    with pytest.raises(ValueError) as caught:
        knn_radii(np.zeros((3, 2)), 3)
    assert str(caught.value) == "need more than k=3 points, got 3"


def test_inside_includes_the_boundary_and_works_in_chunks(monkeypatch):
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    radii = np.array([4.0, 1.0])  # squared
    points = np.array([[2.0, 0.0], [2.0, 0.1], [11.0, 0.0], [9.0, 0.5], [5.0, 5.0]])
    expected = [True, False, True, False, False]
    assert inside(points, centres, radii).tolist() == expected
    monkeypatch.setattr(manifold, "CHUNK", 2)
    assert inside(points, centres, radii).tolist() == expected
    assert inside(points.tolist(), centres.tolist(), radii).tolist() == expected


def test_precision_and_recall_of_a_hand_example():
    real = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    fake = np.array([[0.5], [1.5], [2.5], [3.5], [40.0]])
    # real k=3 radii (squared): 9, 4, 4, 4, 9 -> fakes inside: all but 40 -> precision 4/5
    # fake radii: 4, 1, 1, 4, (36.5)^2; reals within: 0 (0.5^2<=4), 1, 2, 3, 4 -> recall 1
    assert precision_recall(real, fake, 3) == (0.8, 1.0)
    assert precision_recall(fake, real, 3) == (1.0, 0.8)


def brute_density_coverage(real, fake, k):
    radii = brute_radii(real, k)
    d = ((fake[:, None, :] - real[None, :, :]) ** 2).sum(-1)
    hits = (d <= radii[None, :])
    return hits.sum() / (k * len(fake)), float(hits.any(axis=0).mean())


def test_density_and_coverage_in_several_chunks_match_brute_force(monkeypatch):
    real = RNG.standard_normal((13, 2))
    fake = RNG.standard_normal((9, 2)) * 0.7 + 0.4
    want = brute_density_coverage(real, fake, 2)
    monkeypatch.setattr(manifold, "CHUNK", 4)
    got = density_coverage(real, fake, 2)
    assert got == pytest.approx(want, rel=1e-12)
    assert density_coverage(real.astype(np.float32), fake.astype(np.float32), 2) == \
        pytest.approx(brute_density_coverage(real.astype(np.float32).astype(np.float64),
                                             fake.astype(np.float32).astype(np.float64), 2),
                      rel=1e-12)


def test_density_counts_boundary_hits_and_can_exceed_one():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[1.0], [1.0]])
    # k=1 radii (squared): all 1; each fake lies in three balls (two of them on the boundary)
    density, coverage = density_coverage(real, fake, 1)
    assert density == 3.0 and coverage == 0.75
    assert density_coverage(real, np.array([[30.0]]), 1) == (0.0, 0.0)


def test_the_module_defaults_are_the_papers():
    assert manifold.K == 3 and manifold.DC_K == 5
    assert kid_module.SUBSET_SIZE == 1000 and kid_module.SUBSETS == 100
    assert fid_module.GaussianStats.__dataclass_params__.frozen


def test_fid_of_rank_deficient_covariances_is_finite():
    """Fewer samples than dimensions: S1^(1/2) S2 S1^(1/2) has eigenvalues that round below
    zero; they are clipped, not passed to the square root (which would give NaN)."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.standard_normal((3, 10)), rng.standard_normal((4, 10))
        value = fid(x, y)
        assert np.isfinite(value) and value > 0


def test_kid_defaults_to_seed_zero_and_a_two_subset_spread():
    x, y = RNG.standard_normal((8, 3)), RNG.standard_normal((8, 3)) + 0.2
    assert kid(x, y, subset_size=4, subsets=5) == kid(x, y, subset_size=4, subsets=5, seed=0)
    assert kid(x, y, subset_size=4, subsets=5) != kid(x, y, subset_size=4, subsets=5, seed=1)
    mean, spread = kid(x, y, subset_size=4, subsets=2, seed=2)
    rng = np.random.default_rng(2)
    picks = [(rng.choice(8, 4, replace=False), rng.choice(8, 4, replace=False)) for _ in range(2)]
    values = [brute_mmd2(x[r], y[f]) for r, f in picks]
    assert mean == pytest.approx(np.mean(values), rel=1e-10)
    assert spread == pytest.approx(np.std(values, ddof=1), rel=1e-10) and spread > 0


def test_kid_precomputes_whole_kernels_exactly_up_to_its_memory_bound(monkeypatch):
    """Three (N, N) float64 matrices when 3 * N^2 * 8 bytes fit the bound, else three small
    matrices per subset: the results agree (above), the memory does not."""
    calls = []
    kernel = kid_module.polynomial_kernel

    def counting(a, b):
        calls.append(a.shape[0])
        return kernel(a, b)

    monkeypatch.setattr(kid_module, "polynomial_kernel", counting)
    x, y = RNG.standard_normal((12, 4)), RNG.standard_normal((10, 4))
    monkeypatch.setattr(kid_module, "FULL_KERNEL_BYTES", 3 * 12**2 * 8)
    kid(x, y, subset_size=5, subsets=6)
    assert sorted(calls) == [10, 12, 12]
    calls.clear()
    monkeypatch.setattr(kid_module, "FULL_KERNEL_BYTES", 3 * 12**2 * 8 - 1)
    kid(x, y, subset_size=5, subsets=6)
    assert calls == [5] * 18


# float32 features far from the origin: |a|^2 + |b|^2 - 2 a.b cancels catastrophically in
# float32 (spacing 8 near 1e8), so every manifold function must compute in float64.
OFFSET = np.float32(1e4)
LINE = (OFFSET + np.array([[0.0], [1.0], [3.0], [7.0]])).astype(np.float32)


def test_knn_radii_of_float32_features_far_from_the_origin():
    assert knn_radii(LINE, 1).tolist() == [1.0, 1.0, 4.0, 16.0]
    assert knn_radii(LINE, 3).tolist() == [49.0, 36.0, 16.0, 49.0]


def test_inside_of_float32_features_far_from_the_origin_gives_booleans():
    points = (OFFSET + np.array([[2.0], [2.5], [20.0]])).astype(np.float32)
    got = inside(points, LINE, np.array([1.0, 1.0, 0.0, 0.0]))
    assert got.dtype == np.bool_
    assert got.tolist() == [True, False, False]
    got = inside(points.astype(np.float64), LINE, np.array([1.0, 1.0, 0.0, 0.0]))
    assert got.tolist() == [True, False, False]


def test_density_coverage_of_float32_features_far_from_the_origin():
    fake = (OFFSET + np.array([[1.5], [6.0], [30.0]])).astype(np.float32)
    # k=1 radii 1, 1, 4, 16: 1.5 lies in the balls of 1 (0.25) and 3 (2.25 <= 4);
    # 6 in the ball of 7 (1 <= 16) and of 3 (9 > 4: no); 30 in none
    assert density_coverage(LINE, fake, 1) == (1.0, 0.75)
    assert density_coverage(LINE.astype(np.float64), fake, 1) == (1.0, 0.75)


def test_precision_recall_pass_their_k_on():
    real = RNG.standard_normal((15, 2))
    fake = RNG.standard_normal((12, 2)) * 0.6 + 0.8
    for k in (1, 2, 5):
        precision = inside(fake, real, brute_radii(real, k)).mean()
        recall = inside(real, fake, brute_radii(fake, k)).mean()
        assert precision_recall(real, fake, k) == pytest.approx((precision, recall), abs=1e-12)
    assert precision_recall(real, fake, 1) != precision_recall(real, fake, 5)


def test_density_coverage_squares_float32_real_features_in_float64():
    """(1e4 + 2)^2 rounds down by 4 in float32: a generated sample 2.5 outside the ball of the
    real sample 1e4 + 2 (squared distance 6.25 > 4) would land inside it."""
    real = (OFFSET + np.array([[0.0], [2.0]])).astype(np.float32)
    fake = (OFFSET + np.array([[4.5]])).astype(np.float32)
    assert density_coverage(real, fake, 1) == (0.0, 0.0)
