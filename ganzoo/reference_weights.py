"""Reference weights shipped with ganzoo: ``<family>-<backend>@reference``.

A card's optional ``[reference]`` table names a generator file in ``registry/reference/`` (the
``ganzoo_registry`` package), its sha256, the command that trained it and what it measured.
The first use of ``MODEL@reference`` checks the file's sha256 and imports it into the local
store as a version of MODEL (:func:`ganzoo.exchange.import_file`: either backend builds the
network from the canonical weights); later uses find that version again. Offline, in seconds.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.errors import IntegrityError, UnknownVersionError
from ganzoo.weights.format import file_sha256

if TYPE_CHECKING:
    from ganzoo.cards import ModelCard
    from ganzoo.store import RunStore, VersionRecord

REFERENCE_DIR = "reference"


def reference_path(card: ModelCard) -> Path:
    """Where the card's reference file is (it may be missing): ``reference/`` of the
    ``ganzoo_registry`` package for a built-in card, beside the card file for a plugin's."""
    if card.reference is None:
        raise UnknownVersionError(f"family '{card.family}' ships no reference weights")
    name = str(card.reference["file"])
    if card.source.startswith("registry/"):
        return Path(str(resources.files("ganzoo_registry") / REFERENCE_DIR / name))
    return Path(card.source).parent / REFERENCE_DIR / name


def verified_reference(card: ModelCard) -> Path:
    """The family's reference file, checked against the sha256 its card records."""
    path = reference_path(card)
    if not path.is_file():
        raise IntegrityError(f"{path} (the {card.family} reference weights named by its card) "
                             "is missing from this installation: reinstall ganzoo")
    actual = file_sha256(path)
    if actual != card.reference["sha256"]:  # type: ignore[index]
        raise IntegrityError(
            f"{path} hashes to sha256 {actual}, but the {card.family} card records "
            f"{card.reference['sha256']}: the file was changed or damaged; "  # type: ignore[index]
            "reinstall ganzoo")
    return path


def families_with_reference(catalog: Any) -> list[str]:
    return sorted(f for f, card in catalog.cards.items() if card.reference is not None)


def resolve_reference(store: RunStore, model_id: str,
                      catalog: Any | None = None) -> VersionRecord:
    """The version of ``model_id`` holding its family's reference weights, imported on
    first use. A family without a ``[reference]`` is an :class:`UnknownVersionError`."""
    if catalog is None:
        from ganzoo.cli.console import load_catalog

        catalog = load_catalog()
    spec = catalog.model(model_id)  # an unknown id suggests close ones
    card = spec.card
    if card.reference is None:
        others = families_with_reference(catalog)
        raise UnknownVersionError(
            f"{model_id}@reference: the {card.family} family ships no reference weights "
            f"(its card has no [reference]). Families with them: "
            f"{', '.join(others) or 'none'}. Train one with 'ganzoo train {model_id}'.")
    path = verified_reference(card)
    parent = f"import:{path.name}"
    for record in reversed(store.list(model_id)):
        if record.parent == parent:
            return record
    from ganzoo.exchange import import_file

    imported = import_file(catalog, store, path, backend=spec.backend,
                           steps=reference_steps(card))
    assert imported.record is not None  # not a dry run
    return imported.record


def reference_steps(card: ModelCard) -> int | None:
    """The generator updates behind the card's reference: its ``budget`` (real images drawn)
    over the images one update draws (batch x critic steps); None when the card has none."""
    reference = card.reference or {}
    budget = reference.get("budget")
    if not isinstance(budget, int) or budget <= 0:
        return None
    recipe = card.recipe(reference.get("recipe"))
    return budget // (recipe.batch_size * recipe.d_steps_per_g)
