"""Scores from the classifier's predictions: an Inception-Score-like score and class coverage.

Both read the domain classifier's softmax on generated images. A generator that collapses onto
a few modes produces few predicted classes: its coverage and class entropy drop while its FID
may still look passable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IS_SPLITS = 10
MIN_SHARE = 0.5  # a class is covered when it gets at least half of its share in the real data
_EPS = 1e-12


def inception_like_score(probs: np.ndarray, splits: int = IS_SPLITS) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split: mean and std (Salimans et al. 2016).

    1 when every image gets the same prediction, at most the number of classes when each image
    is classified confidently and the classes are balanced.
    """
    probs = np.asarray(probs, dtype=np.float64)
    splits = max(1, min(splits, len(probs)))
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + _EPS) - np.log(marginal + _EPS))).sum(axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def class_shares(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The share of each class among ``labels`` (N,) ints."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    return counts / max(int(counts.sum()), 1)


def class_coverage(probs: np.ndarray, reference_shares: np.ndarray,
                   min_share: float = MIN_SHARE) -> dict[str, Any]:
    """How generated images spread over the classes, by their predicted (argmax) class.

    ``coverage``: the fraction of classes whose predicted share reaches ``min_share`` times their
    share in the real data. ``class_entropy``: entropy of the predicted histogram divided by
    log(classes), 1 for a uniform spread, 0 for one class. ``class_tv``: total variation
    distance to the real class shares (0 = same mix).
    """
    probs = np.asarray(probs)
    reference_shares = np.asarray(reference_shares, dtype=np.float64)
    num_classes = probs.shape[1]
    predicted = probs.argmax(axis=1)
    counts = np.bincount(predicted, minlength=num_classes)
    shares = counts / max(len(predicted), 1)
    covered = shares >= min_share * reference_shares
    nonzero = shares[shares > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / np.log(num_classes))
    return {
        "coverage": float(covered.mean()),
        "class_entropy": entropy,
        "class_tv": float(0.5 * np.abs(shares - reference_shares).sum()),
        "class_histogram": [int(c) for c in counts],
        "classes_missing": [int(i) for i in np.flatnonzero(~covered)],
    }
