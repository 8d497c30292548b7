"""Generating images from a registered version or a weights file, with any capable backend.

The file or version becomes a generator through :mod:`ganzoo.weights.generators`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.catalog import Catalog
from ganzoo.errors import UsageError
from ganzoo.images import save_grid
from ganzoo.noise import draw_noise
from ganzoo.weights.generators import generator_for, load_generator_from_file, version_weights
from ganzoo.weights.loading import check_file

# The one way from a file or a version to a generator is ganzoo.weights.generators; these
# names stay importable from here.
__all__ = ["DEFAULT_N", "DEFAULT_PER_CLASS", "class_names", "classes_of",
           "load_generator_from_file", "sample_grid", "weights_path_for"]


def weights_path_for(ref: str, catalog: Catalog | None = None) -> Path:
    """The weights file of a registered version (an unknown model id suggests close ones),
    checked against the sha256 the index recorded for it."""
    return version_weights(ref, catalog)[0]


DEFAULT_N = 64
DEFAULT_PER_CLASS = 8


def classes_of(catalog: Catalog, meta: dict[str, Any]) -> int | None:
    """The number of classes of the model a weights file holds (None: unconditional), from
    its card's recipe (the metadata's ``classes`` must agree)."""
    card = catalog.cards.get(meta.get("family", ""))
    classes = None
    if card is not None and meta.get("recipe") in card.recipes:
        classes = card.recipe(meta["recipe"]).classes
    if classes is None and meta.get("conditional"):
        classes = int(meta["classes"])
    return classes


def class_names(catalog: Catalog, dataset: str | None, classes: int) -> list[str]:
    """The dataset's class names (its metadata), or the class numbers where it has none."""
    spec = catalog.datasets.get(dataset or "")
    names = list(getattr(spec, "classes", ()) or ())
    return names if len(names) == classes else [str(c) for c in range(classes)]


def sample_grid(catalog: Catalog, ref: str | None, *, n: int | None = None, output: Path,
                seed: int = 0, weights: Path | None = None, backend: str | None = None,
                label: int | None = None, by_class: bool = False) -> Path:
    """Generate images and save them as a PNG grid at ``output``.

    Unconditional: ``n`` images (default 64). A class-conditional model: ``label`` makes all
    ``n`` images of that class, ``by_class`` one labelled row per class, ``n // classes``
    images per row (default 8); otherwise labels are drawn uniformly (seeded).
    """
    from ganzoo.conditioning import check_label, grid_labels, uniform_labels

    if weights is None and ref is None:
        raise UsageError("name a version (MODEL@N) or pass --weights FILE")
    if label is not None and by_class:
        raise UsageError("--label and --by-class exclude each other: one class, or every class")
    if n is not None and n < 1:
        raise UsageError(f"-n must be at least 1, not {n}")
    path = Path(weights) if weights is not None else weights_path_for(ref or "", catalog)
    if weights is None and backend is not None:
        raise UsageError("--backend only applies with --weights (export the version first)")
    checked = check_file(catalog, path)
    meta = checked.meta
    classes = classes_of(catalog, meta)
    model = ref or str(meta.get("model_id", path))
    if label is not None or by_class:
        check_label(label if label is not None else 0, classes, model)
    generator = generator_for(catalog, checked, backend)
    latent = int(meta["latent_dim"])
    if classes is None:
        count = n or DEFAULT_N
        images = np.asarray(generator.generate(draw_noise(meta["noise"], count, latent, seed)))
        return save_grid(images, Path(output))
    if by_class:
        per_class = max(1, n // classes) if n else DEFAULT_PER_CLASS
        labels = grid_labels(classes, per_class)
    else:
        count = n or DEFAULT_N
        labels = (np.full(count, label, np.int64) if label is not None
                  else uniform_labels(count, classes, seed))
    noise = draw_noise(meta["noise"], len(labels), latent, seed)
    images = np.asarray(generator.generate(noise, labels))
    if by_class:
        from ganzoo.class_grid import save_class_grid

        return save_class_grid(images, class_names(catalog, meta.get("dataset"), classes),
                               Path(output))
    return save_grid(images, Path(output))
