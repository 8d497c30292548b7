"""Class labels for conditional models: checking a dataset's labels, drawing the labels of a
by-class grid, and the checks that ``--label`` makes. Backend-neutral (numpy only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ganzoo.errors import UnlabeledDatasetError, UsageError

if TYPE_CHECKING:
    from ganzoo.cards import Recipe

GRID_COLUMNS = 8  # images per class row in the training shell's fixed grid


def training_labels(recipe: Recipe, labels: np.ndarray | None, n: int,
                    source: str = "the dataset") -> np.ndarray | None:
    """The (N,) int64 labels a conditional recipe trains on (None for an unconditional one).

    A conditional recipe needs one label per image, each in ``[0, classes)``; anything else is
    :class:`UnlabeledDatasetError` (exit 2) naming the fix, raised before any training.
    """
    if not recipe.conditional:
        return None
    classes = int(recipe.classes or 0)
    if labels is None or np.size(labels) == 0:
        raise UnlabeledDatasetError(
            f"{source} has no class labels, but {recipe.name} is a class-conditional recipe "
            f"({classes} classes) that trains on (image, label) pairs; train it on a labelled "
            "dataset (fashion, mnist) or choose an unconditional family")
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != n:
        raise UnlabeledDatasetError(f"{source} has {len(labels)} labels for {n} images; "
                                    "a conditional recipe needs one label per image")
    if not np.issubdtype(labels.dtype, np.integer):
        raise UnlabeledDatasetError(f"{source}'s labels are {labels.dtype}, not integers")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        raise UnlabeledDatasetError(
            f"{source} has labels in [{low}, {high}], but {recipe.name} has {classes} classes "
            f"(0-{classes - 1}); use a dataset with at most {classes} classes")
    return labels.astype(np.int64)


def check_label(label: int, classes: int | None, model: str = "this model") -> int:
    """``--label``: an unconditional model or a label outside ``[0, classes)`` is a
    :class:`UsageError` naming the valid range."""
    if classes is None:
        raise UsageError(f"{model} is not class-conditional: --label and --by-class apply to "
                         "conditional models (e.g. cgan-torch)")
    if not 0 <= int(label) < int(classes):
        raise UsageError(f"--label {label} is outside {model}'s classes 0-{classes - 1}")
    return int(label)


def grid_labels(classes: int, per_class: int) -> np.ndarray:
    """Labels of a by-class grid: ``per_class`` of class 0, then of class 1, ... (row-major)."""
    return np.repeat(np.arange(int(classes), dtype=np.int64), int(per_class))


def uniform_labels(n: int, classes: int, seed: int) -> np.ndarray:
    """``n`` labels drawn uniformly from ``[0, classes)`` with a seeded numpy generator."""
    return np.random.default_rng(int(seed)).integers(0, int(classes), size=int(n),
                                                     dtype=np.int64)


def balanced_labels(n: int, classes: int, seed: int) -> np.ndarray:
    """``n`` labels with every class ``n // classes`` or one more times, in a seeded order:
    what evaluation asks a conditional generator for (so per-class metrics get equal shares)."""
    labels = np.resize(np.arange(int(classes), dtype=np.int64), int(n))
    return np.random.default_rng([int(seed), 0x1ABE1]).permutation(labels)
