"""Generating images from a registered version or a weights file, with any capable backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.catalog import Catalog
from ganzoo.errors import UsageError, WeightsFileError
from ganzoo.images import save_grid
from ganzoo.noise import draw_noise
from ganzoo.protocols import Generator
from ganzoo.weights import select_part


def weights_path_for(ref: str, catalog: Catalog | None = None) -> Path:
    """The weights file of a registered version (an unknown model id suggests close ones),
    checked against the sha256 the index recorded for it."""
    from ganzoo.store import RunStore, parse_ref

    if catalog is not None:
        catalog.model(parse_ref(ref).model_id)
    store = RunStore()
    return store.verify_weights(store.resolve(ref))


def load_generator_from_file(catalog: Catalog, path: Path,
                             backend: str | None = None) -> tuple[Generator, dict[str, Any]]:
    """A generator built by ``backend`` (default: the one that trained it) from a weights file.

    The file is checked against its family's card first (metadata and tensor shapes), so a
    file that contradicts the card is a clear error, never a crash or a wrong distribution.
    """
    from ganzoo.weights.loading import check_file, loader_for

    checked = check_file(catalog, Path(path))
    spec = loader_for(catalog, checked.card.family, backend or checked.meta["backend"])
    generator = select_part(checked.arrays, "generator")
    if not generator:
        raise WeightsFileError(f"{path} holds no generator tensors: it cannot be sampled")
    return spec.load_backend().load_generator(checked.recipe, generator), checked.meta


def sample_grid(catalog: Catalog, ref: str | None, *, n: int, output: Path, seed: int = 0,
                weights: Path | None = None, backend: str | None = None) -> Path:
    """Generate ``n`` images and save them as a PNG grid at ``output``."""
    if weights is None and ref is None:
        raise UsageError("name a version (MODEL@N) or pass --weights FILE")
    path = Path(weights) if weights is not None else weights_path_for(ref or "", catalog)
    if weights is None and backend is not None:
        raise UsageError("--backend only applies with --weights (export the version first)")
    generator, meta = load_generator_from_file(catalog, path, backend)
    noise = draw_noise(meta["noise"], n, int(meta["latent_dim"]), seed)
    images = np.asarray(generator.generate(noise))
    return save_grid(images, Path(output))
