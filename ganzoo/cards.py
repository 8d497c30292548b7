"""Model cards: one TOML file per family (registry/*.toml), validated when loaded.

A card is the backend-neutral "what" of a family: provenance, recipes (hyper-parameters and
architectures), and the parameter counts its seed document reports. Backends supply the "how".
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ganzoo.card_checks import check_keys, require
from ganzoo.errors import CardError
from ganzoo.losses import Objectives
from ganzoo.recipes import (
    CONDITIONING_DISCRIMINATOR,
    CONDITIONING_GENERATOR,
    D_BATCH_KINDS,
    NOISE_KINDS,
    OPTIMIZER_KINDS,
    STEP_KINDS,
    OptimizerSpec,
    Recipe,
    parse_recipe,
    resolve_extends,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The recipe's names (ganzoo.recipes) stay importable from here.
__all__ = ["CONDITIONING_DISCRIMINATOR", "CONDITIONING_GENERATOR", "D_BATCH_KINDS",
           "NOISE_KINDS", "OPTIMIZER_KINDS", "STEP_KINDS", "ModelCard", "OptimizerSpec",
           "Recipe", "builtin_cards", "load_card", "parse_card"]

_CARD_KEYS = {"family", "title", "description", "default_recipe", "provenance", "recipes"}
_PROVENANCE_KEYS = {"seed_documents", "source", "inferred", "departures"}
# Optional [[results]] entries: measured figures with the commands that produced them.
_RESULT_KEYS = {"model", "recipe", "data", "split", "budget", "train_command", "eval_command",
                "n", "fid", "fid_floor", "images_per_s", "notes"}
_RESULT_REQUIRED = {"model", "recipe", "budget", "train_command", "eval_command", "fid",
                    "fid_floor"}
_RESULT_NUMBERS = {"n", "fid", "fid_floor", "images_per_s"}
# Optional [reference]: the family's shipped generator (registry/reference/<file>), the
# command that trained it and what it measured; loaded as <family>-<backend>@reference.
_REFERENCE_KEYS = {"file", "sha256", "command", "budget", "fid", "model", "recipe", "n",
                   "fid_floor", "eval_command", "notes"}
_REFERENCE_REQUIRED = {"file", "sha256", "command", "budget", "fid"}


@dataclass(frozen=True)
class ModelCard:
    """A family: its provenance and recipes."""

    family: str
    title: str
    description: str
    default_recipe: str
    provenance: dict[str, Any]
    recipes: dict[str, Recipe]
    source: str = ""
    digest: str = field(default="", compare=False)
    # Measured results ([[results]]): budgets, FID against the floor, and their commands.
    results: tuple[dict[str, Any], ...] = ()
    # The shipped reference generator ([reference]): file, sha256, command, budget, fid.
    reference: dict[str, Any] | None = None

    def recipe(self, name: str | None = None) -> Recipe:
        """The named recipe, or the default one; a clear error lists the recipes."""
        key = name or self.default_recipe
        if key not in self.recipes:
            from ganzoo.errors import UsageError

            raise UsageError(
                f"Family '{self.family}' has no recipe '{key}'. "
                f"Choose one of: {', '.join(self.recipes)}."
            )
        return self.recipes[key]


def parse_card(text: str, source: str, objectives: Objectives | None = None) -> ModelCard:
    """Parse and validate a card's TOML text; ``source`` names the file in errors.

    ``objectives`` holds the losses and penalties the card may name (default: the built-in
    ones; a catalog passes its registry, plugins' losses included).
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CardError(f"{source}: not valid TOML: {exc}") from None
    check_keys(raw, _CARD_KEYS | {"results", "reference"}, source)
    for key in sorted(_CARD_KEYS):
        require(raw, key, source)
    provenance = raw["provenance"]
    if not isinstance(provenance, Mapping):
        raise CardError(f"{source}: provenance: expected a [provenance] table")
    check_keys(provenance, _PROVENANCE_KEYS, f"{source}: provenance")
    recipes_raw = raw["recipes"]
    if not isinstance(recipes_raw, Mapping) or not recipes_raw:
        raise CardError(f"{source}: 'recipes' must hold at least one [recipes.NAME] table")
    for name, table in recipes_raw.items():
        if not isinstance(table, Mapping):
            raise CardError(f"{source}: recipes.{name}: expected a table")
    recipes = {
        name: parse_recipe(name, resolve_extends(recipes_raw, name, f"{source}: recipes.{name}"),
                            f"{source}: recipes.{name}", objectives)
        for name in recipes_raw
    }
    default = raw["default_recipe"]
    if default not in recipes:
        raise CardError(f"{source}: default_recipe '{default}' is not one of {', '.join(recipes)}")
    return ModelCard(
        family=str(raw["family"]),
        title=str(raw["title"]),
        description=str(raw["description"]).strip(),
        default_recipe=default,
        provenance=dict(provenance),
        recipes=recipes,
        source=source,
        digest=hashlib.sha256(text.encode()).hexdigest(),
        results=_parse_results(raw.get("results", []), str(raw["family"]), recipes, source),
        reference=_parse_reference(raw.get("reference"), recipes, source),
    )


def _parse_reference(raw: Any, recipes: Mapping[str, Recipe],
                     source: str) -> dict[str, Any] | None:
    """The card's optional ``[reference]`` table (a shipped generator and how it was made)."""
    if raw is None:
        return None
    where = f"{source}: reference"
    if not isinstance(raw, Mapping):
        raise CardError(f"{where}: expected a [reference] table")
    check_keys(raw, _REFERENCE_KEYS, where)
    for key in sorted(_REFERENCE_REQUIRED):
        require(raw, key, where)
    name = raw["file"]
    if (not isinstance(name, str) or not name.endswith(".safetensors") or "/" in name
            or "\\" in name or name.startswith(".")):
        raise CardError(f"{where}.file: expected a file name ending in .safetensors (in "
                        f"registry/reference/), got {name!r}")
    digest = raw["sha256"]
    if (not isinstance(digest, str) or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)):
        raise CardError(f"{where}.sha256: expected 64 lowercase hex digits, got {digest!r}")
    if "recipe" in raw and raw["recipe"] not in recipes:
        raise CardError(f"{where}.recipe: '{raw['recipe']}' is not one of {', '.join(recipes)}")
    for key in ("fid", "fid_floor", "n", "budget"):
        value = raw.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise CardError(f"{where}.{key}: expected a non-negative number, got {value!r}")
    return dict(raw)


def _parse_results(raw: Any, family: str, recipes: Mapping[str, Recipe],
                   source: str) -> tuple[dict[str, Any], ...]:
    """The card's ``[[results]]`` entries, each naming one of the family's models and recipes."""
    if not isinstance(raw, list) or not all(isinstance(entry, Mapping) for entry in raw):
        raise CardError(f"{source}: results: expected [[results]] tables")
    entries = []
    for i, entry in enumerate(raw):
        where = f"{source}: results[{i}]"
        check_keys(entry, _RESULT_KEYS, where)
        for key in sorted(_RESULT_REQUIRED):
            require(entry, key, where)
        if not str(entry["model"]).startswith(f"{family}-"):
            raise CardError(f"{where}.model: '{entry['model']}' is not a {family} model "
                            f"(expected {family}-<backend>)")
        if entry["recipe"] not in recipes:
            raise CardError(f"{where}.recipe: '{entry['recipe']}' is not one of "
                            f"{', '.join(recipes)}")
        for key in sorted(_RESULT_NUMBERS & set(entry)):
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise CardError(f"{where}.{key}: expected a non-negative number, got {value!r}")
        entries.append(dict(entry))
    return tuple(entries)


def load_card(path: Path, objectives: Objectives | None = None) -> ModelCard:
    """Load one card from a file."""
    return parse_card(Path(path).read_text(encoding="utf-8"), str(path), objectives)


def builtin_cards(objectives: Objectives | None = None) -> list[ModelCard]:
    """The cards shipped in registry/ (installed as the ``ganzoo_registry`` package)."""
    cards = []
    for entry in sorted(resources.files("ganzoo_registry").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            cards.append(parse_card(entry.read_text(encoding="utf-8"), f"registry/{entry.name}",
                                    objectives))
    return cards
