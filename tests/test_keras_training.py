"""Keras backend: the one trainer, its three step kinds, freezing, determinism and resume.

Tiny networks (every layer kind, batch norm and dropout in both) keep each trace short; the
step kinds are the card recipes' own ``step`` / ``d_batches`` values.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("tensorflow") is None:  # not importorskip: torch must load first
    pytest.skip("the keras extra is not installed", allow_module_level=True)

from ganzoo.architecture import parse_net
from ganzoo.cards import builtin_cards
from ganzoo.protocols import TrainConfig
from ganzoo.training.checkpoint import load_checkpoint, save_checkpoint
from ganzoo_keras.backend import create_backend
from ganzoo_keras.builder import random_states
from ganzoo_keras.canonical import from_canonical
from ganzoo_keras.data import epoch_permutation, images_to_tensor
from ganzoo_keras.runtime import tf
from ganzoo_keras.trainer import KerasTrainer, use_xla

pytestmark = pytest.mark.keras

LATENT = 8
BATCH = 32
KINDS = {  # id -> (step, d_batches)
    "simultaneous": ("simultaneous", "separate"),
    "alternating": ("alternating", "separate"),
    "combined-separate": ("combined", "separate"),
    "combined-concat": ("combined", "concat"),
}


def tiny_recipe(step: str, d_batches: str = "separate", noise: str = "uniform"):
    """The mlp seed004 recipe with tiny networks that still use every layer kind."""
    base = {c.family: c for c in builtin_cards()}["mlp"].recipe("seed004")
    generator = parse_net([
        {"type": "dense", "units": 7 * 7 * 4},
        {"type": "batch_norm", "momentum": 0.8},
        {"type": "leaky_relu", "slope": 0.2},
        {"type": "dropout", "rate": 0.3},
        {"type": "reshape", "shape": [7, 7, 4]},
        {"type": "conv_transpose", "filters": 1, "kernel": 4, "stride": 4, "bias": False},
        {"type": "tanh"},
    ], (LATENT,), "test.generator")
    discriminator = parse_net([
        {"type": "conv", "filters": 4, "kernel": 3, "stride": 2},
        {"type": "batch_norm"},
        {"type": "leaky_relu", "slope": 0.2},
        {"type": "dropout", "rate": 0.3},
        {"type": "flatten"},
        {"type": "dense", "units": 1},
    ], (28, 28, 1), "test.discriminator")
    return dataclasses.replace(base, latent_dim=LATENT, generator=generator,
                               discriminator=discriminator, step=step, d_batches=d_batches,
                               noise=noise, batch_size=BATCH)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (256, 28, 28, 1), dtype=np.uint8)


def make(recipe, images, seed=7, **config) -> KerasTrainer:
    cfg = TrainConfig(model_id="test-keras", recipe=recipe.name, dataset="random",
                      batch_size=BATCH, seed=seed, **config)
    return create_backend(None).create_trainer(recipe, cfg, images)


def snapshot(model) -> list[np.ndarray]:
    """Every weight of a model (trainable and batch-norm statistics), copied."""
    return [np.array(w.numpy()) for w in model.weights]


def assert_states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        # Bitwise on this CPU; a tolerance only so that reordered float sums on other
        # hardware do not fail the resume contract.
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7, err_msg=key)


# -- the combined step's freeze ---------------------------------------------------------------

@pytest.fixture(scope="module")
def combined(images):
    return make(tiny_recipe("combined"), images)


def test_steps_are_looked_up_by_name_as_in_torch(combined):
    steps = combined.steps
    assert steps.by_name("simultaneous") == steps.simultaneous
    assert steps.by_name("alternating") == steps.alternating
    assert steps.by_name("combined") == steps.combined
    with pytest.raises(ValueError, match="unknown step 'sequential'"):
        steps.by_name("sequential")


def test_combined_generator_update_leaves_the_discriminator_untouched(combined):
    updates = combined.steps
    d_before, g_before = snapshot(combined.discriminator), snapshot(combined.generator)
    g_loss = tf.function(lambda: updates.combined_generator_update(BATCH))()
    assert np.isfinite(float(g_loss))
    for before, after in zip(d_before, snapshot(combined.discriminator), strict=True):
        np.testing.assert_array_equal(before, after)  # batch-norm statistics included
    assert any(not np.array_equal(b, a)
               for b, a in zip(g_before, snapshot(combined.generator), strict=True))
    assert combined.discriminator.trainable  # the freeze lasts only for the generator's update


def test_combined_discriminator_update_leaves_the_generator_untouched(combined):
    updates = combined.steps
    real = combined.images[:BATCH]
    # What D says of the real batch before its update, with the very dropout masks the update
    # will draw: its weights, BN statistics and seed states are put back after the look.
    d_vars = [*combined.discriminator.weights,
              *(v for layer in combined.discriminator.layers for v in random_states(layer))]
    saved = [np.array(v.numpy()) for v in d_vars]
    expected_real = float(tf.reduce_mean(tf.sigmoid(combined.discriminator(real,
                                                                           training=True))))
    for var, value in zip(d_vars, saved, strict=True):
        var.assign(value)
    d_before, g_before = snapshot(combined.discriminator), snapshot(combined.generator)
    d_loss, d_real, d_fake = tf.function(updates.combined_discriminator_update)(real)
    assert float(d_real) == pytest.approx(expected_real, rel=1e-5)
    assert np.isfinite(float(d_loss)) and np.isfinite(float(d_fake))
    for before, after in zip(g_before, snapshot(combined.generator), strict=True):
        np.testing.assert_array_equal(before, after)  # fakes come from inference mode
    assert any(not np.array_equal(b, a)
               for b, a in zip(d_before, snapshot(combined.discriminator), strict=True))


# -- every step kind --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_deterministic_and_resumable(kind, images, tmp_path):
    """Same seed => same run, however the steps are split into calls; and k steps, state(),
    a trainer that loads it, k more steps == 2k steps (weights, optimiser slots, noise and
    dropout states)."""
    recipe = tiny_recipe(*KINDS[kind])
    first = make(recipe, images)
    w0 = first.weights()
    metrics = first.run_steps(0, 0, 3)
    assert set(metrics) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v) for v in metrics.values())
    # One step's metrics are the step function's own values on the epoch's first batch,
    # replayed by hand on a twin trainer (more steps: Adam's sign-like first updates turn
    # float differences between the loop's graph and a one-step graph into 1e-4 ones).
    one = make(recipe, images).run_steps(0, 0, 1)
    for key, value in replayed_metrics(recipe, images).items():
        assert one[key] == pytest.approx(value, rel=1e-6, abs=1e-7), key
    w1 = first.weights()
    for part in ("generator", "discriminator"):  # one run_steps trains both networks
        assert any(not np.array_equal(w0[k], w1[k]) for k in w0 if k.startswith(part))
    # Through the core's checkpoint file, as a resumed run gets it.
    save_checkpoint(tmp_path / "checkpoint.safetensors", first.state(), {"step": 3})
    checkpoint, _ = load_checkpoint(tmp_path / "checkpoint.safetensors")
    first.run_steps(0, 3, 3)
    expected = first.state()

    second = make(recipe, images)
    second.run_steps(0, 0, 6)  # the same 6 steps in one call
    assert_states_equal(second.state(), expected)
    second.load_state(checkpoint)  # overwrites everything the 6 steps changed
    second.run_steps(0, 3, 3)
    assert_states_equal(second.state(), expected)


def replayed_metrics(recipe, images):
    """A twin trainer's first step driven by hand: the batch the epoch's permutation picks
    first, fed to the step function the recipe names (traced, as the trainer's loop is)."""
    twin = make(recipe, images)
    first = epoch_permutation(len(images), twin.config.seed, 0)[:BATCH]
    values = tf.function(twin.steps.by_name(recipe.step))(tf.gather(twin.images, first))
    return dict(zip(("d_loss", "g_loss", "d_real", "d_fake"), values.numpy(), strict=True))


CARD_RECIPES = [(card.family, name) for card in builtin_cards() for name in card.recipes]


@pytest.mark.parametrize(("family", "name"), CARD_RECIPES, ids=lambda v: v)
def test_every_card_recipe_trains_a_step(family, name, images):
    """The real networks and optimisers of every recipe (batch 8 keeps it quick)."""
    recipe = {c.family: c for c in builtin_cards()}[family].recipe(name)
    config = TrainConfig(model_id=f"{family}-keras", recipe=name, dataset="random",
                         batch_size=8, seed=0)
    count = 16 * recipe.d_steps_per_g  # a critic taking 5 batches per step needs them all
    labels = np.arange(count) % recipe.classes if recipe.conditional else None  # cgan: (x, y)
    trainer = create_backend(None).create_trainer(recipe, config, images[:count], labels)
    before = trainer.weights()
    metrics = trainer.run_steps(0, 0, 1)
    assert all(np.isfinite(v) for v in metrics.values())
    after = trainer.weights()
    for part in ("generator", "discriminator"):
        assert any(not np.array_equal(before[k], after[k]) for k in before if k.startswith(part))
    assert not trainer.xla  # a one-step run never pays for an XLA compile


def test_state_holds_optimisers_and_random_states(combined):
    state = combined.state()
    assert set(combined.weights()) <= set(state)
    assert "rng.noise" in state
    assert "rng.generator.3.0" in state and "rng.discriminator.3.0" in state  # dropout seeds
    assert state["optim.generator.0"].shape == ()  # the iteration counter comes first
    slots = [k for k in state if k.startswith("optim.discriminator.")]
    assert len(slots) == 2 + 2 * 6  # iteration, learning rate, Adam's m and v per variable
    assert all(isinstance(v, np.ndarray) for v in state.values())


def test_different_seeds_give_different_runs(images):
    """From the *same* initial weights, the seed alone (batch order, noise, dropout) decides
    the run: another seed must train to other weights, the same seed to the same ones."""
    recipe = tiny_recipe("alternating", noise="normal")
    initial = make(recipe, images, seed=1).weights()
    runs = []
    for seed in (1, 1, 2):
        trainer = make(recipe, images, seed=seed)
        for part in ("generator", "discriminator"):
            from_canonical(trainer._model(part), part, initial)
        trainer.run_steps(0, 0, 1)
        runs.append(trainer.weights())
    for key in initial:
        np.testing.assert_array_equal(runs[0][key], runs[1][key], err_msg=key)
    for part in ("generator", "discriminator"):
        assert any(not np.array_equal(runs[0][k], runs[2][k]) for k in initial
                   if k.startswith(part)), part


def test_sample_matches_the_loaded_generator(combined, images):
    noise = np.random.default_rng(1).uniform(-1, 1, (16, LATENT)).astype(np.float32)
    sample = combined.sample(noise)
    assert sample.shape == (16, 28, 28, 1) and sample.dtype == np.float32
    assert np.all(np.abs(sample) <= 1)
    loaded = create_backend(None).load_generator(combined.recipe, combined.weights())
    np.testing.assert_array_equal(loaded.generate(noise), sample)


# -- data and limits --------------------------------------------------------------------------

def test_images_become_floats_in_minus_one_one(images):
    tensor = images_to_tensor(images[:4, :, :, 0], (28, 28, 1))  # (N, H, W) gains a channel
    assert tensor.shape == (4, 28, 28, 1) and tensor.dtype == tf.float32
    np.testing.assert_allclose(tensor.numpy(), images[:4] / 127.5 - 1, atol=1e-6)


def test_epoch_permutation_is_a_function_of_seed_and_epoch():
    a = epoch_permutation(100, 5, 3).numpy()
    np.testing.assert_array_equal(a, epoch_permutation(100, 5, 3).numpy())
    np.testing.assert_array_equal(np.sort(a), np.arange(100))
    assert not np.array_equal(a, epoch_permutation(100, 5, 4).numpy())
    assert not np.array_equal(a, epoch_permutation(100, 6, 3).numpy())


def test_steps_per_epoch_and_step_range(combined, images):
    assert combined.steps_per_epoch == 256 // BATCH
    capped = KerasTrainer(combined.recipe, dataclasses.replace(combined.config, max_steps=3),
                          images[:100])
    assert capped.steps_per_epoch == 3
    with pytest.raises(ValueError, match="outside"):
        capped.run_steps(0, 2, 2)


@pytest.mark.parametrize("kind", ["simultaneous"])
def test_mixed_precision_keeps_float32_outputs(kind, images):
    trainer = make(tiny_recipe(*KINDS[kind]), images[:64], amp=True)
    metrics = trainer.run_steps(0, 0, 2)
    assert all(np.isfinite(v) for v in metrics.values())
    assert trainer.sample(np.zeros((2, LATENT), np.float32)).dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in trainer.weights().items())


def test_xla_where_it_was_measured_to_pay():
    cards = {c.family: c for c in builtin_cards()}
    mlp, dcgan = cards["mlp"].recipe("seed002"), cards["dcgan"].recipe()
    full = TrainConfig(model_id="m", recipe="r", dataset="d", epochs=3)
    assert use_xla(mlp, full, 1875)  # dense networks, a long run
    assert not use_xla(mlp, full, 10)  # too short to repay the compile
    assert not use_xla(dcgan, full, 468)  # XLA's CPU convolutions are slower
    assert use_xla(dcgan, dataclasses.replace(full, compile=True), 468)
    assert not use_xla(mlp, dataclasses.replace(full, extra={"xla": False}), 1875)


@pytest.mark.slow
def test_xla_compiles_once_for_any_start_and_count(images):
    trainer = make(tiny_recipe("combined"), images, compile=True)
    trainer.run_steps(0, 0, 2)
    trainer.run_steps(0, 2, 3)
    trainer.run_steps(1, 0, 1)
    assert trainer._run.experimental_get_tracing_count() == 1
