"""Metrics of a class-conditional generator: does it draw the class it is asked for?

``label_accuracy``: the share of generated images whose class, by the shipped domain
classifier (the extractor's classifier head, argmax), equals the label the generator was given.
A generator that ignores its label scores about 1/classes (0.1 for ten balanced classes); real
images with their own labels score the classifier's accuracy.

``per_class_fid``: FID between the generated images of class c and the real reference images
of class c, in the extractor's feature space, for every class with at least
``PER_CLASS_MIN`` images on both sides (fewer make FID's covariance too noisy to mean much).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganzoo.metrics.fid import fid

PER_CLASS_MIN = 150  # images per class, generated and real, for a per-class FID


def label_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose argmax class equals ``labels`` (probabilities (N, C), labels (N,))."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(probs):
        raise ValueError(f"{len(labels)} labels for {len(probs)} images")
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def conditional_metrics(fake_features: np.ndarray, fake_probs: np.ndarray,
                        fake_labels: np.ndarray, real_features: np.ndarray,
                        real_labels: np.ndarray, classes: int,
                        minimum: int = PER_CLASS_MIN) -> dict[str, Any]:
    """Label accuracy (overall and per class) and per-class FID where both sides have at least
    ``minimum`` images of the class; classes short of that are listed as skipped."""
    fake_labels = np.asarray(fake_labels).reshape(-1)
    real_labels = np.asarray(real_labels).reshape(-1)
    predicted = np.argmax(fake_probs, axis=1)
    by_class: dict[str, float] = {}
    per_class_fid: dict[str, float] = {}
    skipped: list[int] = []
    for c in range(int(classes)):
        mine = fake_labels == c
        if mine.any():
            by_class[str(c)] = float(np.mean(predicted[mine] == c))
        real = real_labels == c
        if mine.sum() >= minimum and real.sum() >= minimum:
            per_class_fid[str(c)] = fid(real_features[real], fake_features[mine])
        else:
            skipped.append(c)
    return {
        "classes": int(classes),
        "label_accuracy": label_accuracy(fake_probs, fake_labels),
        "label_accuracy_by_class": by_class,
        "per_class_fid": per_class_fid,
        "per_class_fid_mean": (float(np.mean(list(per_class_fid.values())))
                               if per_class_fid else None),
        "per_class_min_n": int(minimum),
        "per_class_skipped": skipped,
    }
