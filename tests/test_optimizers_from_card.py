"""The card reaches the optimiser: for every recipe of every card, the optimisers each backend's
trainer actually built (and hands to its steps) hold the card's kind, learning rate, betas,
epsilon or momentum."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ganzoo.cards import builtin_cards
from ganzoo.protocols import TrainConfig

torch = pytest.importorskip("torch")  # before tensorflow, always

HAS_KERAS = importlib.util.find_spec("tensorflow") is not None
CARDS = {card.family: card for card in builtin_cards()}
RECIPES = [(family, name) for family, card in CARDS.items() for name in card.recipes]
PARTS = ("generator", "discriminator")


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    threads = torch.get_num_threads()  # the torch trainer sets the process-wide count
    yield
    torch.set_num_threads(threads)


def build(backend: str, family: str, name: str):
    recipe = CARDS[family].recipe(name)
    config = TrainConfig(model_id=f"{family}-{backend}", recipe=name, dataset="random",
                         batch_size=2, seed=0, device="cpu", max_steps=1,
                         extra={"torch_threads": 1} if backend == "torch" else {})
    # One full step: a critic that takes d_steps_per_g batches per generator update needs them.
    count = 2 * recipe.d_steps_per_g
    images = np.zeros((count, *recipe.image_shape), np.uint8)
    if backend == "torch":
        from ganzoo_torch.backend import create_backend
    else:
        from ganzoo_keras.backend import create_backend
    labels = np.zeros(count, np.int64) if recipe.conditional else None  # cgan trains on (x, y)
    return recipe, create_backend(None).create_trainer(recipe, config, images, labels)


def test_the_cards_use_distinct_settings_a_swap_would_show():
    """beta1 != beta2 somewhere, so a swap of the two cannot pass unnoticed."""
    adams = [r.optimizers[p] for c in CARDS.values() for n in c.recipes
             for r in [c.recipe(n)] for p in PARTS if r.optimizers[p].name == "adam"]
    assert adams and all(spec["beta1"] != spec["beta2"] for spec in adams)
    assert any(spec["beta1"] != 0.9 for spec in adams)  # not only the defaults
    assert len({spec["lr"] for spec in adams}) > 1 and len({s["epsilon"] for s in adams}) > 1


@pytest.mark.parametrize(("family", "name"), RECIPES, ids=lambda v: v)
def test_torch_optimizers_hold_the_cards_settings(family, name):
    recipe, trainer = build("torch", family, name)
    used = {"generator": trainer.steps.g_optimizer, "discriminator": trainer.steps.d_optimizer}
    for part in PARTS:
        spec, optimizer = recipe.optimizers[part], trainer.optimizers[part]
        assert used[part] is optimizer, part
        (group,) = optimizer.param_groups
        net = getattr(trainer, part)
        assert {id(p) for p in group["params"]} == {id(p) for p in net.parameters()}, part
        assert group["lr"] == spec["lr"], part
        if spec.name == "adam":
            assert isinstance(optimizer, torch.optim.Adam), part
            assert group["betas"] == (spec["beta1"], spec["beta2"]), part
            assert group["eps"] == spec["epsilon"], part
            assert not group["amsgrad"] and group["weight_decay"] == 0, part
        else:
            assert isinstance(optimizer, torch.optim.SGD), part
            assert group["momentum"] == spec["momentum"], part
            assert not group["nesterov"] and group["weight_decay"] == 0, part


@pytest.mark.keras
@pytest.mark.skipif(not HAS_KERAS, reason="tensorflow is not installed")
@pytest.mark.parametrize(("family", "name"), RECIPES, ids=lambda v: v)
def test_keras_optimizers_hold_the_cards_settings(family, name):
    from ganzoo_keras.runtime import keras

    recipe, trainer = build("keras", family, name)
    used = {"generator": trainer.steps.g_optimizer,
            "discriminator": trainer.steps.d_optimizer}
    for part in PARTS:
        spec, optimizer = recipe.optimizers[part], trainer.optimizers[part]
        assert used[part] is optimizer, part
        # The learning rate lives in a float32 variable.
        assert float(np.asarray(optimizer.learning_rate)) == pytest.approx(spec["lr"],
                                                                          rel=1e-7), part
        if spec.name == "adam":
            assert isinstance(optimizer, keras.optimizers.Adam), part
            assert (optimizer.beta_1, optimizer.beta_2) == (spec["beta1"], spec["beta2"]), part
            assert optimizer.epsilon == spec["epsilon"], part
            assert not optimizer.amsgrad, part
        else:
            assert isinstance(optimizer, keras.optimizers.SGD), part
            assert optimizer.momentum == spec["momentum"] and not optimizer.nesterov, part
        assert optimizer.weight_decay is None and optimizer.clipnorm is None, part
