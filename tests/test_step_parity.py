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

Tolerance: 2e-6 absolute on every updated tensor and 1e-5 on the losses. Measured worst case
3e-7 (float32 sums taken in another order: oneDNN vs Eigen convolutions), while the updates
themselves are 1e-4 .. 1e-2 on average, so a wrong label, scale or network in one backend
shows by orders of magnitude.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest
from step_drivers import keras_step, keras_trainer, noise_draws, torch_step, torch_trainer

from ganzoo.architecture import parse_net
from ganzoo.cards import OptimizerSpec, builtin_cards

torch = pytest.importorskip("torch")
if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("tensorflow is not installed", allow_module_level=True)

pytestmark = [pytest.mark.torch, pytest.mark.keras]

BATCH = 8
ATOL = 2e-6
LOSS_ATOL = 1e-5
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


def comparable(recipe):
    sgd = OptimizerSpec("sgd", {"lr": 1.0, "momentum": 0.0})
    return dataclasses.replace(
        recipe, generator=_without_dropout(recipe.generator, "generator"),
        discriminator=_without_dropout(recipe.discriminator, "discriminator"),
        optimizers={"generator": sgd, "discriminator": sgd})


@pytest.mark.parametrize(("family", "name"), RECIPES, ids=lambda v: v)
def test_one_step_updates_the_same_weights_in_torch_and_keras(family, name):
    card = next(c for c in builtin_cards() if c.family == family)
    recipe = comparable(card.recipe(name))
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (BATCH, *recipe.image_shape)).astype(np.float32)
    noise = [rng.standard_normal((BATCH, recipe.latent_dim)).astype(np.float32)
             for _ in range(noise_draws(recipe))]
    # The torch backend's own initialisation, given to both.
    initial = torch_trainer(recipe, {}, BATCH, load=False).weights()

    torch_side = torch_trainer(recipe, initial, BATCH)
    torch_metrics = torch_step(torch_side, real, noise)
    keras_side = keras_trainer(recipe, initial, BATCH)
    keras_metrics = keras_step(keras_side, real, noise)

    for key in ("d_loss", "g_loss"):
        assert torch_metrics[key] == pytest.approx(keras_metrics[key], abs=LOSS_ATOL), key
    got_torch, got_keras = torch_side.weights(), keras_side.weights()
    assert got_torch.keys() == got_keras.keys() == initial.keys()
    for part in ("generator", "discriminator"):
        moved = max(np.abs(got_torch[k] - initial[k]).max() for k in initial
                    if k.startswith(part))
        assert moved > 100 * ATOL, f"one step barely moved the {part}: nothing to compare"
    for key in initial:
        np.testing.assert_allclose(got_torch[key], got_keras[key], rtol=0, atol=ATOL,
                                   err_msg=key)
