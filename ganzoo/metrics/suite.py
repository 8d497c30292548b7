"""Every metric at once, from features and class probabilities of a generated and a real set."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ganzoo.metrics import classes, kid, manifold
from ganzoo.metrics.fid import GaussianStats, frechet_distance, gaussian_stats


@dataclass(frozen=True)
class MetricSettings:
    """The knobs that change the numbers; all recorded in the protocol."""

    kid_subset_size: int = kid.SUBSET_SIZE
    kid_subsets: int = kid.SUBSETS
    pr_k: int = manifold.K
    dc_k: int = manifold.DC_K
    is_splits: int = classes.IS_SPLITS
    coverage_min_share: float = classes.MIN_SHARE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeatureSet:
    """Penultimate features (N, D) and class probabilities (N, C) of one image set."""

    features: np.ndarray
    probs: np.ndarray

    def __len__(self) -> int:
        return len(self.features)


# Directions, for marking the best value: True when higher is better.
# ``coverage`` is class coverage; ``knn_coverage`` is Naeem et al.'s k-NN coverage.
HIGHER_IS_BETTER = {"fid": False, "kid": False, "precision": True, "recall": True,
                    "density": True, "knn_coverage": True, "is": True, "coverage": True,
                    "class_entropy": True, "class_tv": False}


def measure(fake: FeatureSet, real: FeatureSet, reference_shares: np.ndarray,
            settings: MetricSettings, seed: int = 0,
            real_stats: GaussianStats | None = None) -> dict[str, Any]:
    """FID, KID, precision, recall, density, k-NN coverage, IS-like score, class coverage.

    Keys: ``fid``, ``kid`` (+ ``kid_std``), ``precision``, ``recall``, ``density``,
    ``knn_coverage`` (Naeem et al.), ``is`` (+ ``is_std``), and from class coverage
    ``coverage``, ``class_entropy``, ``class_tv``, ``class_histogram``, ``classes_missing``.
    """
    stats = real_stats or gaussian_stats(real.features)
    kid_mean, kid_std = kid.kid(real.features, fake.features, settings.kid_subset_size,
                                settings.kid_subsets, seed)
    precision, recall = manifold.precision_recall(real.features, fake.features, settings.pr_k)
    density, knn_coverage = manifold.density_coverage(real.features, fake.features,
                                                      settings.dc_k)
    score, score_std = classes.inception_like_score(fake.probs, settings.is_splits)
    return {
        "fid": frechet_distance(stats, gaussian_stats(fake.features)),
        "kid": kid_mean,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
        "density": density,
        "knn_coverage": knn_coverage,
        "is": score,
        "is_std": score_std,
        **classes.class_coverage(fake.probs, reference_shares, settings.coverage_min_share),
    }
