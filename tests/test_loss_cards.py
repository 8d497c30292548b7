"""Card keys for losses, penalties and the schedule, checked against the loss registry.

No framework is imported here: the registry and card validation are backend-neutral.
"""

from __future__ import annotations

import sys

import pytest

from ganzoo.cards import builtin_cards, parse_card
from ganzoo.catalog import Catalog
from ganzoo.errors import CardError
from ganzoo.hookspecs import hookimpl
from ganzoo.losses import BUILTIN_LOSSES, Objectives, PenaltyChoice

CARD = """
family = "tiny"
title = "Tiny"
description = "A tiny dense GAN for card validation."
default_recipe = "r"

[provenance]
source = "tests"

[recipes.r]
description = "d"
seed_document = "none"
dataset = "random"
latent_dim = 2
image_shape = [2, 2, 1]
noise = "normal"
batch_size = 4
epochs = 1
step = "{step}"
d_batches = "{d_batches}"
optimizer.generator = {{ name = "sgd" }}
optimizer.discriminator = {{ name = "sgd" }}
{extra}

[recipes.r.expected_params]
generator_trainable = 12
generator_non_trainable = 0
discriminator_trainable = 5
discriminator_non_trainable = 0

[recipes.r.generator]
layers = [{{ type = "dense", units = 4 }}, {{ type = "reshape", shape = [2, 2, 1] }}]

[recipes.r.discriminator]
layers = [{{ type = "flatten" }}, {{ type = "dense", units = 1 }}]
"""


def card(loss: str = "bce_logits", step: str = "alternating", d_batches: str = "separate",
         extra: str = "", objectives: Objectives | None = None):
    text = CARD.format(step=step, d_batches=d_batches, extra=f'loss = "{loss}"\n{extra}')
    return parse_card(text, "tiny.toml", objectives).recipe()


def test_builtin_losses_and_penalties_are_documented():
    objectives = Objectives.builtin()
    assert set(objectives.losses) == {"bce_logits", "least_squares", "hinge", "wasserstein"}
    assert set(objectives.penalties) == {"gradient_penalty", "r1"}
    for info in BUILTIN_LOSSES:
        assert info.summary and info.discriminator and info.generator and info.reference
    # Only bce_logits has a sigmoid: d_real/d_fake are probabilities for it alone.
    assert {i.name for i in BUILTIN_LOSSES if i.output == "probability"} == {"bce_logits"}
    assert objectives.penalties["r1"].uses_fake is False
    assert objectives.penalties["gradient_penalty"].uses_fake is True


def test_every_builtin_card_still_parses_with_its_defaults():
    # The seed families keep the defaults; the paper families name their own objectives.
    seeds = {"mlp", "dcgan", "combined"}
    for c in builtin_cards():
        for recipe in c.recipes.values():
            if c.family in seeds:
                assert recipe.loss == "bce_logits"
                assert recipe.penalty is None and recipe.d_steps_per_g == 1
    objectives = {c.family: (r.loss, r.penalty and r.penalty.name, r.d_steps_per_g)
                  for c in builtin_cards() for r in [c.recipe()]}
    assert objectives["wgangp"] == ("wasserstein", "gradient_penalty", 5)
    assert objectives["lsgan"][0] == "least_squares" and objectives["sngan"][0] == "hinge"


@pytest.mark.parametrize("loss", ["bce_logits", "least_squares", "hinge", "wasserstein"])
@pytest.mark.parametrize(("step", "d_batches"), [("simultaneous", "separate"),
                                                 ("alternating", "separate"),
                                                 ("combined", "separate"),
                                                 ("combined", "concat")])
def test_every_builtin_loss_works_with_every_step_kind(loss, step, d_batches):
    assert card(loss, step, d_batches).loss == loss


def test_penalty_and_schedule_keys():
    recipe = card("wasserstein", extra='penalty = { name = "gradient_penalty", weight = 10 }\n'
                                       "d_steps_per_g = 5")
    assert recipe.penalty == PenaltyChoice("gradient_penalty", 10.0)
    assert recipe.d_steps_per_g == 5
    assert card("hinge", "combined", "separate",
                'penalty = { name = "r1", weight = 0.5 }').penalty.weight == 0.5


@pytest.mark.parametrize(("args", "message"), [
    (("focal",), "unknown loss 'focal' (registered: bce_logits, hinge, least_squares, "
                 "wasserstein; plugins add more with the register_losses hook)"),
    (("hinge", "alternating", "separate", 'penalty = { name = "gp", weight = 1 }'),
     "recipes.r.penalty.name: unknown penalty 'gp' (registered: gradient_penalty, r1"),
    (("hinge", "alternating", "separate", 'penalty = { name = "r1", weight = -1 }'),
     "recipes.r.penalty.weight: expected a non-negative number, got -1"),
    (("hinge", "alternating", "separate", 'penalty = { name = "r1" }'),
     "recipes.r.penalty: missing required key 'weight'"),
    (("hinge", "alternating", "separate", 'penalty = "r1"'),
     "recipes.r.penalty: expected a table like"),
    (("hinge", "combined", "separate", 'penalty = { name = "gradient_penalty", weight = 10 }'),
     "recipes.r.penalty: 'gradient_penalty' needs real and generated samples in one update, "
     "but the combined step with d_batches = \"separate\" updates on them apart"),
    (("hinge", "simultaneous", "separate", "d_steps_per_g = 5"),
     "recipes.r.d_steps_per_g: the simultaneous step updates both networks from one forward "
     "pass, so it cannot take 5 discriminator steps per generator step"),
    (("hinge", "alternating", "separate", "d_steps_per_g = 0"),
     "recipes.r.d_steps_per_g: expected a positive integer, got 0"),
])
def test_card_errors_name_the_key_and_the_fix(args, message):
    with pytest.raises(CardError) as caught:
        card(*args)
    assert message in str(caught.value)


def _plugin_objectives() -> Objectives:
    objectives = Objectives.builtin()
    register = objectives.loss_registrar("p")
    register("alt_only", summary="s", discriminator="d", generator="g", output="score",
             steps=("alternating",), concat=False)
    return objectives


def test_a_loss_declares_the_step_kinds_it_supports():
    objectives = _plugin_objectives()
    assert card("alt_only", objectives=objectives).loss == "alt_only"
    with pytest.raises(CardError, match="loss 'alt_only' does not work with step = "
                                        "\"combined\" \\(it supports: alternating\\)"):
        card("alt_only", "combined", objectives=objectives)


def test_a_loss_that_is_not_per_sample_refuses_the_concat_batch():
    objectives = Objectives.builtin()
    objectives.loss_registrar("p")("pairwise", summary="s", concat=False)
    assert card("pairwise", "combined", "separate", objectives=objectives).loss == "pairwise"
    with pytest.raises(CardError, match="not a per-sample labelled loss"):
        card("pairwise", "combined", "concat", objectives=objectives)


class LossPlugin:
    """Declares a loss and a penalty, with lazy import-path implementations."""

    @hookimpl
    def register_losses(self, register):
        register("soft_hinge", summary="softplus hinge", discriminator="softplus(1 - D(x)) + "
                 "softplus(1 + D(G(z)))", generator="-D(G(z))", output="score",
                 backend="torch", implementation="not_imported_module_xyz:LOSS")
        register("hinge", backend="jax", implementation="jax_backend:HINGE")

    @hookimpl
    def register_penalties(self, register):
        register("logit_l2", summary="small logits", formula="weight * mean(D(x)^2)",
                 uses_fake=False, batch_norm_ok=True)


class ClashingPlugin:
    @hookimpl
    def register_losses(self, register):
        register("hinge", summary="my own hinge")


def test_plugin_losses_and_penalties_reach_card_validation_through_the_catalog():
    catalog = Catalog.load(plugins=[], extra=[("lossy", LossPlugin()),
                                              ("clash", ClashingPlugin())])
    reports = {r.name: r for r in catalog.plugin_reports}
    assert reports["lossy"].registered == ["loss soft_hinge", "loss soft_hinge (torch)",
                                           "loss hinge (jax)", "penalty logit_l2"]
    (error,) = reports["clash"].errors
    assert error.startswith("register_losses raised PluginError: loss 'hinge' is already "
                            "declared by ganzoo")
    assert catalog.objectives.loss("hinge").origin == "ganzoo"  # the built-in is kept
    recipe = card("soft_hinge", extra='penalty = { name = "logit_l2", weight = 2 }',
                  objectives=catalog.objectives)
    assert recipe.objectives is catalog.objectives
    assert recipe.objectives.loss("soft_hinge").origin == "plugin lossy"
    # Registering an import path imports nothing until a backend asks for it.
    assert "not_imported_module_xyz" not in sys.modules
    with pytest.raises(CardError, match="unknown loss 'soft_hinge'"):
        card("soft_hinge")  # the built-in registry alone does not know it


def test_registrar_refuses_half_registrations():
    register = Objectives.builtin().loss_registrar("p")
    with pytest.raises(Exception, match="give both backend= and implementation="):
        register("hinge", backend="torch")
    with pytest.raises(Exception, match="no declaration"):
        register("nothing", backend="torch", implementation=object())
    with pytest.raises(Exception, match="output must be one of probability, score"):
        register("x", summary="s", output="logit")


def test_gradient_penalties_refuse_batch_norm_in_the_discriminator():
    text = CARD.format(step="alternating", d_batches="separate",
                       extra='loss = "wasserstein"\n'
                             'penalty = { name = "gradient_penalty", weight = 10 }')
    text = text.replace("discriminator_trainable = 5", "discriminator_trainable = 17").replace(
        "discriminator_non_trainable = 0", "discriminator_non_trainable = 4").replace(
        '[{ type = "flatten" }, { type = "dense", units = 1 }]',
        '[{ type = "flatten" }, { type = "dense", units = 2 }, { type = "batch_norm" }, '
        '{ type = "dense", units = 1 }]')
    with pytest.raises(CardError) as caught:
        parse_card(text, "tiny.toml")
    assert ("recipes.r.penalty: 'gradient_penalty' penalises per-sample gradients, which batch "
            "normalisation in the discriminator couples") in str(caught.value)
    # Without the penalty the same networks are fine.
    assert parse_card(text.replace('penalty = { name = "gradient_penalty", weight = 10 }', ""),
                      "tiny.toml").recipe().penalty is None
