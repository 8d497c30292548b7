"""Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

Each set's manifold is the union of balls around its points, each ball reaching the point's
k-th nearest neighbour in the same set. Precision: the share of generated samples inside the
real manifold (how realistic). Recall: the share of real samples inside the generated manifold
(how much of the data the generator covers). k = 3, as in the paper.

Density and coverage (Naeem et al. 2020) use only the *real* k-NN balls (k = 5, as in that
paper), so outliers among the generated samples cannot inflate them. Density: how many real
balls hold each generated sample, averaged and divided by k (about 1 when the two sets match;
it can exceed 1). Coverage: the share of real samples whose ball holds at least one generated
sample. A ball includes its boundary (``<=``), as in precision and recall here.
"""

from __future__ import annotations

import numpy as np

K = 3
DC_K = 5  # density and coverage: k of the real k-NN balls (Naeem et al. 2020)
CHUNK = 1000  # rows per distance block: 1000 x 10,000 float64 is 80 MB


def _sq_distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d = (a * a).sum(axis=1)[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def knn_radii(x: np.ndarray, k: int = K) -> np.ndarray:
    """Squared distance from each point of ``x`` to its k-th nearest other point of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) <= k:
        raise ValueError(f"need more than k={k} points, got {len(x)}")
    x_sq = (x * x).sum(axis=1)
    radii = np.empty(len(x))
    for i in range(0, len(x), CHUNK):
        d = _sq_distances(x[i:i + CHUNK], x, x_sq)
        # Index k of the sorted row: the point itself (distance 0) comes first.
        radii[i:i + CHUNK] = np.partition(d, k, axis=1)[:, k]
    return radii


def inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """For each point, whether it lies in any ball (centre, squared radius)."""
    points = np.asarray(points, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    c_sq = (centres * centres).sum(axis=1)
    out = np.empty(len(points), dtype=bool)
    for i in range(0, len(points), CHUNK):
        out[i:i + CHUNK] = (_sq_distances(points[i:i + CHUNK], centres, c_sq)
                            <= radii[None, :]).any(axis=1)
    return out


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = K) -> tuple[float, float]:
    """(precision, recall) of generated features ``fake`` against ``real``."""
    precision = float(inside(fake, real, knn_radii(real, k)).mean())
    recall = float(inside(real, fake, knn_radii(fake, k)).mean())
    return precision, recall


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = DC_K) -> tuple[float, float]:
    """(density, coverage) of generated features ``fake`` against ``real`` (Naeem et al. 2020).

    With r_i the distance from real X_i to its k-th nearest real neighbour and M generated
    samples Y_j: density = (1/kM) sum_j #{i: |Y_j - X_i| <= r_i}; coverage = the share of X_i
    with some |Y_j - X_i| <= r_i.
    """
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    radii = knn_radii(real, k)
    r_sq = (real * real).sum(axis=1)
    hits = 0
    nearest = np.full(len(real), np.inf)  # squared distance from each X_i to its nearest Y_j
    for i in range(0, len(fake), CHUNK):
        d = _sq_distances(fake[i:i + CHUNK], real, r_sq)
        hits += int((d <= radii[None, :]).sum())
        np.minimum(nearest, d.min(axis=0), out=nearest)
    density = hits / (k * len(fake))
    coverage = float((nearest <= radii).mean())
    return float(density), coverage
