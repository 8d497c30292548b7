"""Training-step parity: one step of every card recipe gives the same updated weights in torch
and in Keras, from the same initial weights, batch and noise.

Each recipe runs with its own networks, step kind and ``d_batches``, and two changes, both
needed for a comparison that can fail:

* dropout rate 0: the two backends draw dropout masks from different generators, so any other
  rate makes the two steps differ by design;
* plain SGD with lr 1.0 instead of the recipe's optimiser, so that the update *is* the
  gradient. Adam's first step is about ``lr * sign(gradient)``: it hides a wrong gradient
  magnitude and turns float noise on near-zero gradients into full ``lr`` differences. Each
  backend's Adam is checked against numpy in test_golden_steps.py, and the card's settings
  reaching it in test_optimizers_from_card.py.

Tolerance: 2e-6 absolute on every updated tensor and 1e-5 on the losses (or 2e-6 of a
loss's size, float32's resolution, where an lr-1.0 step made it large). Measured worst case
3e-7 (float32 sums taken in another order: oneDNN vs Eigen convolutions), while the updates
themselves are 1e-4 .. 1e-2 on average, so a wrong label, scale or network in one backend
shows by orders of magnitude.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest
from step_drivers import (
    fix_penalty_draws,
    keras_step,
    keras_trainer,
    noise_draws,
    torch_step,
    torch_trainer,
)

from ganzoo.architecture import parse_net
from ganzoo.cards import OptimizerSpec, builtin_cards

torch = pytest.importorskip("torch")
if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("tensorflow is not installed", allow_module_level=True)

pytestmark = [pytest.mark.torch, pytest.mark.keras]

BATCH = 8
ATOL = 2e-6
LOSS_ATOL = 1e-5
LOSS_RTOL = 2e-6  # the G loss after an lr-1.0 D update can be large (lsgan: ~4e4)
RECIPES = [(card.family, name) for card in builtin_cards() for name in card.recipes]


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    threads = torch.get_num_threads()  # the torch trainer sets the process-wide count
    yield
    torch.set_num_threads(threads)


def _without_dropout(net, where):
    raw = [{"type": layer.kind, **layer.options} for layer in net.layers]
    for layer in raw:
        if layer["type"] == "dropout":
            layer["rate"] = 0.0
    return parse_net(raw, net.input_shape, where)


# SGD learning rates other than 1.0: an lr-1.0 step of these recipes leaves the linear regime
# (wgangp: five critic updates with penalty weight 10 reach NaN; lsgan's and sngan's generator
# steps then act on a discriminator moved by O(100), where float32 noise is amplified past any
# tolerance), so the comparison would test float chaos, not the gradients.
STEP_LR = {"wgangp": 1e-2, "lsgan": 1e-2, "sngan": 1e-2}
# sngan's generator: a few units of its dense layer (batch norm over 8 samples right after it)
# differ by up to 2.8e-6 after the step, 18 of 800k elements; the rest stay within ATOL.
STEP_ATOL = {"sngan": 1e-5}


def comparable(recipe, lr: float = 1.0):
    sgd = OptimizerSpec("sgd", {"lr": lr, "momentum": 0.0})
    return dataclasses.replace(
        recipe, generator=_without_dropout(recipe.generator, "generator"),
        discriminator=_without_dropout(recipe.discriminator, "discriminator"),
        optimizers={"generator": sgd, "discriminator": sgd})


@pytest.mark.parametrize(("family", "name"), RECIPES, ids=lambda v: v)
def test_one_step_updates_the_same_weights_in_torch_and_keras(family, name):
    card = next(c for c in builtin_cards() if c.family == family)
    recipe = comparable(card.recipe(name), STEP_LR.get(family, 1.0))
    rng = np.random.default_rng(0)
    # d_steps_per_g discriminator updates, each on its own real batch and noise.
    real = rng.uniform(-1, 1, (BATCH * recipe.d_steps_per_g, *recipe.image_shape)
                       ).astype(np.float32)
    noise = [rng.standard_normal((BATCH, recipe.latent_dim)).astype(np.float32)
             for _ in range(noise_draws(recipe))]
    # A penalty's interpolation weights: the same for both (the backends' generators differ).
    eps = [rng.uniform(0, 1, BATCH).astype(np.float32) for _ in range(recipe.d_steps_per_g)]
    # The torch backend's own initialisation, given to both.
    initial = torch_trainer(recipe, {}, BATCH, load=False).weights()

    torch_side = torch_trainer(recipe, initial, BATCH)
    fix_penalty_draws("torch", torch_side, recipe, eps)
    torch_metrics = torch_step(torch_side, real, noise)
    keras_side = keras_trainer(recipe, initial, BATCH)
    fix_penalty_draws("keras", keras_side, recipe, eps)
    keras_metrics = keras_step(keras_side, real, noise)

    for key in ("d_loss", "g_loss"):
        assert torch_metrics[key] == pytest.approx(keras_metrics[key], rel=LOSS_RTOL,
                                                   abs=LOSS_ATOL), key
    got_torch, got_keras = torch_side.weights(), keras_side.weights()
    assert got_torch.keys() == got_keras.keys() == initial.keys()
    for part in ("generator", "discriminator"):
        moved = max(np.abs(got_torch[k] - initial[k]).max() for k in initial
                    if k.startswith(part))
        assert moved > 100 * ATOL, f"one step barely moved the {part}: nothing to compare"
    for key in initial:
        np.testing.assert_allclose(got_torch[key], got_keras[key], rtol=0,
                                   atol=STEP_ATOL.get(family, ATOL), err_msg=key)
