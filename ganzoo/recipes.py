"""A recipe: one named set of hyper-parameters and architectures of a family, read from its
card's ``[recipes.NAME]`` table (``extends`` inheritance resolved) and validated.

:mod:`ganzoo.cards` reads the card around it (provenance, results, reference) and re-exports
the names here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ganzoo.architecture import LabelInput, NetSpec, parse_net, projection_width
from ganzoo.card_checks import check_keys, choice, positive_int, require
from ganzoo.errors import CardError
from ganzoo.losses import STEP_KINDS, Objectives, PenaltyChoice, check_recipe_objectives

__all__ = ["CONDITIONING_DISCRIMINATOR", "CONDITIONING_GENERATOR", "D_BATCH_KINDS",
           "NOISE_KINDS", "OPTIMIZER_KINDS", "STEP_KINDS", "OptimizerSpec", "Recipe",
           "parse_recipe", "resolve_extends"]

NOISE_KINDS = ("normal", "uniform")
D_BATCH_KINDS = ("separate", "concat")
# Losses and penalties are not a closed list: see ganzoo.losses (plugins register more).
OPTIMIZER_KINDS = {
    # Keras defaults, because every seed but 004 is Keras code.
    "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7},
    "sgd": {"lr": 1e-2, "momentum": 0.0},
}

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


def _parse_optimizer(raw: Any, where: str) -> OptimizerSpec:
    if not isinstance(raw, Mapping):
        raise CardError(f"{where}: expected a table like {{ name = \"adam\", lr = 2e-4 }}")
    name = choice(require(raw, "name", where), OPTIMIZER_KINDS, f"{where}.name")
    defaults = OPTIMIZER_KINDS[name]
    check_keys(raw, {"name", *defaults}, where)
    settings = {}
    for key, default in defaults.items():
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise CardError(f"{where}.{key}: expected a non-negative number, got {value!r}")
        settings[key] = float(value)
    return OptimizerSpec(name, settings)


def resolve_extends(
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
    merged = resolve_extends(recipes, parent, where, (*seen, name))
    merged.update(raw)
    return merged


def _parse_penalty(raw: Any, objectives: Objectives, where: str) -> PenaltyChoice:
    if not isinstance(raw, Mapping):
        raise CardError(f"{where}: expected a table like {{ name = \"gradient_penalty\", "
                        f"weight = 10 }}")
    check_keys(raw, {"name", "weight"}, where)
    name = require(raw, "name", where)
    objectives.penalty(name, f"{where}.name")
    weight = require(raw, "weight", where)
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
    check_keys(raw, _CONDITIONING_KEYS, where)
    for key in sorted(_CONDITIONING_KEYS):
        require(raw, key, where)
    classes = positive_int(raw["classes"], f"{where}.classes")
    if classes < 2:
        raise CardError(f"{where}.classes: a conditional model needs at least 2 classes")
    choice(raw["generator"], CONDITIONING_GENERATOR, f"{where}.generator")
    choice(raw["discriminator"], CONDITIONING_DISCRIMINATOR, f"{where}.discriminator")
    dim = positive_int(raw["embedding_dim"], f"{where}.embedding_dim")
    g_where = where.rsplit(".", 1)[0] + ".generator"
    generator = parse_net(recipe["generator"]["layers"], (latent,), g_where,
                          LabelInput("concat", classes, dim))
    d = nets["discriminator"]
    width = projection_width(d, f"{where}.discriminator")
    return {"generator": generator,
            "discriminator": NetSpec(d.input_shape, d.layers,
                                     LabelInput("projection", classes, width))}


def parse_recipe(name: str, raw: dict[str, Any], where: str,
                  objectives: Objectives | None = None) -> Recipe:
    """Validate a recipe's table (``extends`` already resolved) into a :class:`Recipe`.

    ``where`` names the table in errors; ``objectives`` holds the losses and penalties it may
    name (default: the built-in ones). The parameter counts the architecture computes must
    equal the card's ``expected_params``.
    """
    objectives = objectives or Objectives.builtin()
    check_keys(raw, _RECIPE_REQUIRED | _RECIPE_OPTIONAL, where)
    for key in sorted(_RECIPE_REQUIRED):
        require(raw, key, where)
    latent = positive_int(raw["latent_dim"], f"{where}.latent_dim")
    image_shape = tuple(raw.get("image_shape", (28, 28, 1)))
    if len(image_shape) != 3:
        raise CardError(f"{where}.image_shape: expected [height, width, channels]")
    optimizer = raw["optimizer"]
    if not isinstance(optimizer, Mapping):
        raise CardError(f"{where}.optimizer: expected a table with generator and discriminator")
    check_keys(optimizer, {"generator", "discriminator"}, f"{where}.optimizer")
    optimizers = {
        part: _parse_optimizer(require(optimizer, part, f"{where}.optimizer"),
                               f"{where}.optimizer.{part}")
        for part in ("generator", "discriminator")
    }
    nets = {}
    for part, input_shape in (("generator", (latent,)), ("discriminator", image_shape)):
        table = raw[part]
        if not isinstance(table, Mapping):
            raise CardError(f"{where}.{part}: expected a table with 'layers'")
        check_keys(table, {"layers"}, f"{where}.{part}")
        nets[part] = parse_net(require(table, "layers", f"{where}.{part}"), input_shape,
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
    check_keys(expected, _EXPECTED_KEYS, f"{where}.expected_params")
    for key in sorted(_EXPECTED_KEYS):
        require(expected, key, f"{where}.expected_params")
    step = choice(raw["step"], STEP_KINDS, f"{where}.step")
    d_batches = choice(raw.get("d_batches", "separate"), D_BATCH_KINDS, f"{where}.d_batches")
    loss = objectives.loss(raw["loss"], f"{where}.loss")
    penalty = (_parse_penalty(raw["penalty"], objectives, f"{where}.penalty")
               if "penalty" in raw else None)
    d_steps_per_g = positive_int(raw.get("d_steps_per_g", 1), f"{where}.d_steps_per_g")
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
        noise=choice(raw["noise"], NOISE_KINDS, f"{where}.noise"),
        batch_size=positive_int(raw["batch_size"], f"{where}.batch_size"),
        epochs=positive_int(raw["epochs"], f"{where}.epochs"),
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

