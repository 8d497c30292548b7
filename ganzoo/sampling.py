"""Generating images from a registered version or a weights file, with any capable backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.catalog import Catalog, ModelSpec
from ganzoo.errors import UsageError, WeightsFileError
from ganzoo.images import save_grid
from ganzoo.noise import draw_noise
from ganzoo.protocols import Generator
from ganzoo.weights import WEIGHTS_NAME, check_shapes, read_weights, select_part


def weights_path_for(ref: str) -> Path:
    """The weights file of a registered version."""
    from ganzoo.store import RunStore

    return RunStore().resolve(ref).path / WEIGHTS_NAME


def spec_for(catalog: Catalog, meta: dict[str, Any], backend: str | None) -> ModelSpec:
    """The model that loads a file's family on ``backend`` (default: the one it was trained on)."""
    family = meta["family"]
    chosen = backend or meta["backend"]
    model_id = f"{family}-{chosen}"
    if model_id not in catalog.models:
        able = sorted(m.backend for m in catalog.models.values() if m.family == family)
        raise UsageError(
            f"No plugin loads family '{family}' on backend '{chosen}'. "
            f"Backends that can: {', '.join(able) or 'none installed'}."
        )
    return catalog.models[model_id]


def load_generator_from_file(catalog: Catalog, path: Path,
                             backend: str | None = None) -> tuple[Generator, dict[str, Any]]:
    """A generator built by ``backend`` with a weights file's generator tensors loaded."""
    arrays, meta = read_weights(path)
    spec = spec_for(catalog, meta, backend)
    recipe = spec.card.recipe(meta["recipe"]) if meta["recipe"] in spec.card.recipes else None
    if recipe is None:
        raise WeightsFileError(f"{path}: recipe '{meta['recipe']}' is not in the "
                               f"{spec.family} card")
    generator = select_part(arrays, "generator")
    check_shapes(generator, recipe.generator.tensor_shapes("generator"), str(path))
    return spec.load_backend().load_generator(recipe, generator), meta


def sample_grid(catalog: Catalog, ref: str | None, *, n: int, output: Path, seed: int = 0,
                weights: Path | None = None, backend: str | None = None) -> Path:
    """Generate ``n`` images and save them as a PNG grid at ``output``."""
    if weights is None and ref is None:
        raise UsageError("name a version (MODEL@N) or pass --weights FILE")
    path = Path(weights) if weights is not None else weights_path_for(ref or "")
    if weights is None and backend is not None:
        raise UsageError("--backend only applies with --weights (export the version first)")
    generator, meta = load_generator_from_file(catalog, path, backend)
    noise = draw_noise(meta["noise"], n, int(meta["latent_dim"]), seed)
    images = np.asarray(generator.generate(noise))
    return save_grid(images, Path(output))
