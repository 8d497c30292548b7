"""Model cards: one TOML file per family (registry/*.toml), validated when loaded.

A card is the backend-neutral "what" of a family: provenance, recipes (hyper-parameters and
architectures), and the parameter counts its seed document reports. Backends supply the "how".
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ganzoo.architecture import LabelInput, NetSpec, parse_net, projection_width
from ganzoo.errors import CardError
from ganzoo.losses import Objectives, PenaltyChoice, check_recipe_objectives

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

NOISE_KINDS = ("normal", "uniform")
STEP_KINDS = ("simultaneous", "alternating", "combined")  # = ganzoo.losses.STEP_KINDS
D_BATCH_KINDS = ("separate", "concat")
# Losses and penalties are not a closed list: see ganzoo.losses (plugins register more).
OPTIMIZER_KINDS = {
    # Keras defaults, because every seed but 004 is Keras code.
    "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7},
    "sgd": {"lr": 1e-2, "momentum": 0.0},
}

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
_RECIPE_REQUIRED = {
    "description",
    "seed_document",
    "dataset",
    "latent_dim",
    "noise",
    "batch_size",
    "epochs",
    "loss",
    "step",
    "optimizer",
    "generator",
    "discriminator",
    "expected_params",
}
_RECIPE_OPTIONAL = {"extends", "d_batches", "image_shape", "notes", "seed_epochs", "penalty",
                    "d_steps_per_g", "conditioning"}
# Class conditioning: how the label enters each network (ganzoo.architecture.LabelInput).
_CONDITIONING_KEYS = {"classes", "generator", "embedding_dim", "discriminator"}
CONDITIONING_GENERATOR = ("concat",)
CONDITIONING_DISCRIMINATOR = ("projection",)
_EXPECTED_KEYS = {
    "generator_trainable",
    "generator_non_trainable",
    "discriminator_trainable",
    "discriminator_non_trainable",
}


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimiser and its settings (Keras names and defaults)."""

    name: str
    settings: dict[str, float]

    def __getitem__(self, key: str) -> float:
        return self.settings[key]


@dataclass(frozen=True)
class Recipe:
    """One named set of hyper-parameters and architectures within a family."""

    name: str
    description: str
    seed_document: str
    dataset: str
    latent_dim: int
    noise: str
    batch_size: int
    epochs: int
    loss: str
    step: str
    d_batches: str
    image_shape: tuple[int, int, int]
    optimizers: dict[str, OptimizerSpec]
    generator: NetSpec
    discriminator: NetSpec
    expected_params: dict[str, int]
    notes: str = ""
    seed_epochs: str = ""
    # The discriminator penalty (None: none) and the schedule: discriminator updates per
    # generator update, each on a fresh real batch (one trainer step = one G update).
    penalty: PenaltyChoice | None = None
    d_steps_per_g: int = 1
    # The registry ``loss`` and ``penalty`` were validated against; trainers look up
    # plugin-registered implementations in it (ganzoo.losses).
    objectives: Objectives = field(default_factory=Objectives.builtin, compare=False, repr=False)

    def parameter_counts(self) -> dict[str, int]:
        """Parameter counts computed from the architecture (same keys as expected_params)."""
        gt, gn = self.generator.parameter_counts()
        dt, dn = self.discriminator.parameter_counts()
        return {
            "generator_trainable": gt,
            "generator_non_trainable": gn,
            "discriminator_trainable": dt,
            "discriminator_non_trainable": dn,
        }

    @property
    def conditional(self) -> bool:
        """Whether both networks take a class label as their second input."""
        return self.generator.label is not None

    @property
    def classes(self) -> int | None:
        """The number of classes of a conditional recipe (None when unconditional)."""
        return self.generator.label.classes if self.generator.label is not None else None


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


def _require(table: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise CardError(f"{where}: missing required key '{key}'")
    return table[key]


def _check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = set(allowed)
    for key in table:
        if key not in allowed:
            raise CardError(
                f"{where}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})"
            )


def _choice(value: Any, choices: Iterable[str], where: str) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise CardError(f"{where}: '{value}' is not one of {', '.join(choices)}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CardError(f"{where}: expected a positive integer, got {value!r}")
    return value


def _parse_optimizer(raw: Any, where: str) -> OptimizerSpec:
    if not isinstance(raw, Mapping):
        raise CardError(f"{where}: expected a table like {{ name = \"adam\", lr = 2e-4 }}")
    name = _choice(_require(raw, "name", where), OPTIMIZER_KINDS, f"{where}.name")
    defaults = OPTIMIZER_KINDS[name]
    _check_keys(raw, {"name", *defaults}, where)
    settings = {}
    for key, default in defaults.items():
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise CardError(f"{where}.{key}: expected a non-negative number, got {value!r}")
        settings[key] = float(value)
    return OptimizerSpec(name, settings)


def _resolve_extends(
    recipes: Mapping[str, Any], name: str, where: str, seen: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A recipe's table with the keys of the recipe it ``extends`` filled in (recursively)."""
    raw = dict(recipes[name])
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if parent not in recipes:
        raise CardError(f"{where}.extends: no recipe named '{parent}'")
    if parent in (*seen, name):
        raise CardError(f"{where}.extends: cycle through '{parent}'")
    merged = _resolve_extends(recipes, parent, where, (*seen, name))
    merged.update(raw)
    return merged


def _parse_penalty(raw: Any, objectives: Objectives, where: str) -> PenaltyChoice:
    if not isinstance(raw, Mapping):
        raise CardError(f"{where}: expected a table like {{ name = \"gradient_penalty\", "
                        f"weight = 10 }}")
    _check_keys(raw, {"name", "weight"}, where)
    name = _require(raw, "name", where)
    objectives.penalty(name, f"{where}.name")
    weight = _require(raw, "weight", where)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
        raise CardError(f"{where}.weight: expected a non-negative number, got {weight!r}")
    return PenaltyChoice(str(name), float(weight))


def _conditioned(raw: Any, recipe: Mapping[str, Any], nets: dict[str, NetSpec], latent: int,
                 where: str) -> dict[str, NetSpec]:
    """Both networks with their label inputs, from ``conditioning = { classes = 10, generator =
    "concat", embedding_dim = 50, discriminator = "projection" }``."""
    if not isinstance(raw, Mapping):
        raise CardError(f"{where}: expected a table like {{ classes = 10, generator = "
                        f"\"concat\", embedding_dim = 50, discriminator = \"projection\" }}")
    _check_keys(raw, _CONDITIONING_KEYS, where)
    for key in sorted(_CONDITIONING_KEYS):
        _require(raw, key, where)
    classes = _int(raw["classes"], f"{where}.classes")
    if classes < 2:
        raise CardError(f"{where}.classes: a conditional model needs at least 2 classes")
    _choice(raw["generator"], CONDITIONING_GENERATOR, f"{where}.generator")
    _choice(raw["discriminator"], CONDITIONING_DISCRIMINATOR, f"{where}.discriminator")
    dim = _int(raw["embedding_dim"], f"{where}.embedding_dim")
    g_where = where.rsplit(".", 1)[0] + ".generator"
    generator = parse_net(recipe["generator"]["layers"], (latent,), g_where,
                          LabelInput("concat", classes, dim))
    d = nets["discriminator"]
    width = projection_width(d, f"{where}.discriminator")
    return {"generator": generator,
            "discriminator": NetSpec(d.input_shape, d.layers,
                                     LabelInput("projection", classes, width))}


def _parse_recipe(name: str, raw: dict[str, Any], where: str,
                  objectives: Objectives | None = None) -> Recipe:
    objectives = objectives or Objectives.builtin()
    _check_keys(raw, _RECIPE_REQUIRED | _RECIPE_OPTIONAL, where)
    for key in sorted(_RECIPE_REQUIRED):
        _require(raw, key, where)
    latent = _int(raw["latent_dim"], f"{where}.latent_dim")
    image_shape = tuple(raw.get("image_shape", (28, 28, 1)))
    if len(image_shape) != 3:
        raise CardError(f"{where}.image_shape: expected [height, width, channels]")
    optimizer = raw["optimizer"]
    if not isinstance(optimizer, Mapping):
        raise CardError(f"{where}.optimizer: expected a table with generator and discriminator")
    _check_keys(optimizer, {"generator", "discriminator"}, f"{where}.optimizer")
    optimizers = {
        part: _parse_optimizer(_require(optimizer, part, f"{where}.optimizer"),
                               f"{where}.optimizer.{part}")
        for part in ("generator", "discriminator")
    }
    nets = {}
    for part, input_shape in (("generator", (latent,)), ("discriminator", image_shape)):
        table = raw[part]
        if not isinstance(table, Mapping):
            raise CardError(f"{where}.{part}: expected a table with 'layers'")
        _check_keys(table, {"layers"}, f"{where}.{part}")
        nets[part] = parse_net(_require(table, "layers", f"{where}.{part}"), input_shape,
                               f"{where}.{part}")
    if "conditioning" in raw:
        nets = _conditioned(raw["conditioning"], raw, nets, latent, f"{where}.conditioning")
    if nets["generator"].output_shape != image_shape:
        raise CardError(
            f"{where}.generator: output shape {nets['generator'].output_shape} "
            f"is not the image shape {image_shape}"
        )
    if nets["discriminator"].output_shape != (1,):
        raise CardError(f"{where}.discriminator: must end in one logit, got "
                        f"{nets['discriminator'].output_shape}")
    expected = raw["expected_params"]
    if not isinstance(expected, Mapping):
        raise CardError(f"{where}.expected_params: expected a table of four counts")
    _check_keys(expected, _EXPECTED_KEYS, f"{where}.expected_params")
    for key in sorted(_EXPECTED_KEYS):
        _require(expected, key, f"{where}.expected_params")
    step = _choice(raw["step"], STEP_KINDS, f"{where}.step")
    d_batches = _choice(raw.get("d_batches", "separate"), D_BATCH_KINDS, f"{where}.d_batches")
    loss = objectives.loss(raw["loss"], f"{where}.loss")
    penalty = (_parse_penalty(raw["penalty"], objectives, f"{where}.penalty")
               if "penalty" in raw else None)
    d_steps_per_g = _int(raw.get("d_steps_per_g", 1), f"{where}.d_steps_per_g")
    if penalty is not None and "conditioning" in raw:
        raise CardError(f"{where}.penalty: penalties run the discriminator on images alone, but "
                        "a conditional discriminator also takes labels; drop the penalty or "
                        "the conditioning")
    check_recipe_objectives(loss, objectives.penalties[penalty.name] if penalty else None,
                            step, d_batches, d_steps_per_g, where,
                            [layer.kind for layer in nets["discriminator"].layers])
    recipe = Recipe(
        name=name,
        description=str(raw["description"]),
        seed_document=str(raw["seed_document"]),
        dataset=str(raw["dataset"]),
        latent_dim=latent,
        noise=_choice(raw["noise"], NOISE_KINDS, f"{where}.noise"),
        batch_size=_int(raw["batch_size"], f"{where}.batch_size"),
        epochs=_int(raw["epochs"], f"{where}.epochs"),
        loss=loss.name,
        step=step,
        d_batches=d_batches,
        image_shape=image_shape,  # type: ignore[arg-type]
        optimizers=optimizers,
        generator=nets["generator"],
        discriminator=nets["discriminator"],
        expected_params={k: int(v) for k, v in expected.items()},
        notes=str(raw.get("notes", "")),
        seed_epochs=str(raw.get("seed_epochs", "")),
        penalty=penalty,
        d_steps_per_g=d_steps_per_g,
        objectives=objectives,
    )
    computed = recipe.parameter_counts()
    for key, value in recipe.expected_params.items():
        if computed[key] != value:
            raise CardError(
                f"{where}.expected_params.{key}: card says {value:,} but the architecture has "
                f"{computed[key]:,}; fix the layers or the expected count"
            )
    return recipe


def parse_card(text: str, source: str, objectives: Objectives | None = None) -> ModelCard:
    """Parse and validate a card's TOML text; ``source`` names the file in errors.

    ``objectives`` holds the losses and penalties the card may name (default: the built-in
    ones; a catalog passes its registry, plugins' losses included).
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CardError(f"{source}: not valid TOML: {exc}") from None
    _check_keys(raw, _CARD_KEYS | {"results", "reference"}, source)
    for key in sorted(_CARD_KEYS):
        _require(raw, key, source)
    provenance = raw["provenance"]
    if not isinstance(provenance, Mapping):
        raise CardError(f"{source}: provenance: expected a [provenance] table")
    _check_keys(provenance, _PROVENANCE_KEYS, f"{source}: provenance")
    recipes_raw = raw["recipes"]
    if not isinstance(recipes_raw, Mapping) or not recipes_raw:
        raise CardError(f"{source}: 'recipes' must hold at least one [recipes.NAME] table")
    for name, table in recipes_raw.items():
        if not isinstance(table, Mapping):
            raise CardError(f"{source}: recipes.{name}: expected a table")
    recipes = {
        name: _parse_recipe(name, _resolve_extends(recipes_raw, name, f"{source}: recipes.{name}"),
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
    _check_keys(raw, _REFERENCE_KEYS, where)
    for key in sorted(_REFERENCE_REQUIRED):
        _require(raw, key, where)
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
        _check_keys(entry, _RESULT_KEYS, where)
        for key in sorted(_RESULT_REQUIRED):
            _require(entry, key, where)
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
