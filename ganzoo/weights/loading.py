"""A weights file checked against its family's card, and the backend that loads it.

The format (:mod:`ganzoo.weights.format`) knows nothing of cards; this module adds what the
installed catalog says: which family and recipe a file claims, whether its metadata and shapes
agree with that card, and which plugin's ``<family>-<backend>`` model builds its networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganzoo.errors import UsageError, WeightsFileError
from ganzoo.weights.format import check_shapes, read_weights, select_part

if TYPE_CHECKING:
    from ganzoo.cards import ModelCard, Recipe
    from ganzoo.catalog import Catalog, ModelSpec


@dataclass(frozen=True)
class CheckedFile:
    """A weights file that passed every check against the card of its family."""

    path: Path
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    card: ModelCard
    recipe: Recipe
    notes: tuple[str, ...] = ()

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.meta["parts"])

    @property
    def trained_backend(self) -> str:
        """The backend that trained the weights (kept across imports)."""
        return str(self.meta.get("trained_backend") or self.meta["backend"])



# -- who can load what -----------------------------------------------------------------------


def loaders_for(catalog: Catalog, family: str) -> list[ModelSpec]:
    """The models that load a family's files: one per backend whose plugin registered
    ``<family>-<backend>``. This registration is how a plugin, built-in or third-party,
    declares which families it can load."""
    return sorted((m for m in catalog.models.values() if m.family == family),
                  key=lambda m: m.backend)


def loader_for(catalog: Catalog, family: str, backend: str) -> ModelSpec:
    """The model loading ``family`` on ``backend``; a usage error names the backends that can."""
    for spec in loaders_for(catalog, family):
        if spec.backend == backend:
            return spec
    able = [m.backend for m in loaders_for(catalog, family)]
    raise UsageError(
        f"No installed plugin loads family '{family}' on backend '{backend}'. "
        f"Backends that can: {', '.join(able) or 'none installed'}"
        + (f" (choose one with --backend {able[0]})." if able else ".")
    )


def check_file(catalog: Catalog, path: Path) -> CheckedFile:
    """Read a weights file and check it against its family's card.

    Raises :class:`WeightsFileError` for a file that is not safetensors, truncated or corrupt,
    without (or with newer) ganzoo metadata, of a family or recipe this installation does not
    know, whose metadata contradicts the card, or whose tensors do not have the card's shapes.
    """
    path = Path(path)
    arrays, meta = read_weights(path)
    family, recipe_name = meta["family"], meta["recipe"]
    card = catalog.cards.get(family)
    if card is None:
        raise WeightsFileError(
            f"{path} holds family '{family}', which no installed plugin defines "
            f"(known families: {', '.join(sorted(catalog.cards)) or 'none'}); install the "
            "plugin that provides it"
        )
    if recipe_name not in card.recipes:
        raise WeightsFileError(
            f"{path}: recipe '{recipe_name}' is not in the {family} card "
            f"(recipes: {', '.join(card.recipes)}); was it exported by a newer card?"
        )
    recipe = card.recipe(recipe_name)
    # The metadata drives sampling (noise kind and size), so it must agree with the card.
    for key, ours in (("latent_dim", recipe.latent_dim), ("noise", recipe.noise),
                      ("image_shape", list(recipe.image_shape))):
        if meta[key] != ours:
            raise WeightsFileError(
                f"{path}: metadata says {key} = {meta[key]!r}, but the {family} card "
                f"(recipe {recipe_name}) has {ours!r}"
            )
    where = f"{path} (family {family}, recipe {recipe_name})"
    for part in meta["parts"]:
        net = recipe.generator if part == "generator" else recipe.discriminator
        try:
            check_shapes(select_part(arrays, part), net.tensor_shapes(part), where)
        except WeightsFileError as exc:
            raise WeightsFileError(f"{exc}; were these weights written for another family "
                                   "or recipe?") from None
    notes = []
    if meta.get("card_sha256") and meta["card_sha256"] != card.digest:
        notes.append(f"the {family} card changed since these weights were trained "
                     "(its hash differs); the tensor shapes still match it")
    return CheckedFile(path, arrays, meta, card, recipe, tuple(notes))
