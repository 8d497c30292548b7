"""Fréchet distance between Gaussians fitted to two feature sets (FID with any extractor).

FID = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)). The trace of the matrix square root
is computed from eigenvalues of the symmetric positive semi-definite S1^(1/2) S2 S1^(1/2), which
has the same spectrum as S1 S2: no general ``sqrtm``, no complex parts to discard, stable for
singular covariances. Agrees with pytorch-fid / torchmetrics (tests check both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaussianStats:
    """Mean (D,) and covariance (D, D) of a feature set, with its sample count."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int


def gaussian_stats(features: np.ndarray) -> GaussianStats:
    """Fit a Gaussian to (N, D) features (covariance with N - 1, as pytorch-fid does)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need (N >= 2, D) features, got shape {x.shape}")
    return GaussianStats(x.mean(axis=0), np.cov(x, rowvar=False), len(x))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((matrix + matrix.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """The Fréchet distance between two Gaussians (>= 0)."""
    diff = a.mu - b.mu
    root = _sqrt_psd(a.sigma)
    middle = root @ b.sigma @ root
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    value = float(diff @ diff) + float(np.trace(a.sigma)) + float(np.trace(b.sigma)) \
        - 2.0 * tr_covmean
    return max(value, 0.0)  # rounding can leave -1e-12 for identical sets


def fid(real: np.ndarray | GaussianStats, fake: np.ndarray | GaussianStats) -> float:
    """FID between two (N, D) feature sets (or already fitted statistics)."""
    a = real if isinstance(real, GaussianStats) else gaussian_stats(real)
    b = fake if isinstance(fake, GaussianStats) else gaussian_stats(fake)
    return frechet_distance(a, b)
