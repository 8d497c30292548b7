"""The torch trainer: each step style trains what it should, and runs resume bit for bit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import ganzoo_registry
from ganzoo.cards import builtin_cards, parse_card
from ganzoo.protocols import TrainConfig, Trainer

torch = pytest.importorskip("torch")

from ganzoo_torch.backend import create_backend  # noqa: E402
from ganzoo_torch.data import epoch_permutation  # noqa: E402

pytestmark = pytest.mark.torch

CARDS = {card.family: card for card in builtin_cards()}
# One recipe per step style (and both combined D-batch styles), at small batch sizes.
STYLES = {
    "simultaneous": ("dcgan", "seed000", 8),
    "alternating": ("mlp", "seed004", 16),
    "combined-separate": ("mlp", "seed002", 16),
    "combined-concat": ("combined", "seed001", 8),
}


# One thread: these tiny batches gain nothing from two, and lose a lot on a busy machine.
ONE_THREAD = {"torch_threads": 1}


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    threads = torch.get_num_threads()  # trainers set the process-wide count
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (256, 28, 28, 1), dtype=np.uint8)


def make_trainer(style, images, seed=0, max_steps=3, **config):
    family, recipe_name, batch = STYLES[style]
    recipe = CARDS[family].recipe(recipe_name)
    cfg = TrainConfig(model_id=f"{family}-torch", recipe=recipe_name, dataset="random",
                      batch_size=batch, seed=seed, device="cpu", max_steps=max_steps,
                      extra=ONE_THREAD, **config)
    return create_backend(None).create_trainer(recipe, cfg, images)


def assert_same_arrays(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def part(weights, prefix):
    return {k: v for k, v in weights.items() if k.startswith(prefix + ".")}


def changed(before, after):
    return any(not np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("style", STYLES)
def test_run_steps_trains_both_networks_and_reports_metrics(style, images):
    trainer = make_trainer(style, images)
    assert isinstance(trainer, Trainer)
    assert trainer.steps_per_epoch == 3
    before = trainer.weights()
    metrics = trainer.run_steps(0, 0, 2)
    after = trainer.weights()
    assert changed(part(before, "generator"), part(after, "generator"))
    assert changed(part(before, "discriminator"), part(after, "discriminator"))
    assert set(metrics) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    # The mean of what the recipe's step function itself returns on the epoch's first two
    # batches (the step's values are pinned against numpy in test_golden_steps.py).
    expected = replayed_metrics(style, images, 2)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=1e-6, abs=1e-7), key


def replayed_metrics(style, images, count):
    """A twin trainer's first ``count`` steps, driven by hand: the batches the epoch's
    permutation picks, fed to the step function the recipe names; their mean metrics."""
    trainer = make_trainer(style, images)
    order = epoch_permutation(len(images), trainer.config.seed, 0, trainer.device)
    step, batch = trainer.steps.by_name(trainer.recipe.step), trainer.batch_size
    rows = []
    with trainer.rng.active():
        for i in range(count):
            real = trainer.images.index_select(0, order[i * batch : (i + 1) * batch])
            rows.append([float(v) for v in step(real)])
    return dict(zip(("d_loss", "g_loss", "d_real", "d_fake"), np.mean(rows, 0), strict=True))


@pytest.mark.parametrize("style", ["combined-separate", "alternating"])
def test_generator_step_leaves_the_discriminator_untouched(style, images):
    trainer = make_trainer(style, images)
    trainer.run_steps(0, 0, 1)  # so D's optimiser has moments that a stray step would move
    d_optim = {k: v for k, v in trainer.state().items() if k.startswith("optim.discriminator")}
    trainer.optimizers["discriminator"].zero_grad(set_to_none=True)
    before = trainer.weights()
    trainer.steps.generator_step()
    after = trainer.weights()
    assert_same_arrays(part(before, "discriminator"), part(after, "discriminator"))
    assert changed(part(before, "generator"), part(after, "generator"))
    assert all(p.grad is None for p in trainer.discriminator.parameters())
    assert_same_arrays(d_optim, {k: v for k, v in trainer.state().items()
                                 if k.startswith("optim.discriminator")})


def test_combined_step_freezes_discriminator_batch_norm_as_keras_does(images):
    # The mlp card with batch normalisation added to seed002's discriminator (layer 4).
    text = (Path(ganzoo_registry.__file__).parent / "mlp.toml").read_text()
    for old, new in (
        ('    { type = "dense", units = 256 },\n    { type = "leaky_relu", slope = 0.2 },\n'
         '    { type = "dense", units = 1 },',
         '    { type = "dense", units = 256 },\n    { type = "batch_norm" },\n'
         '    { type = "leaky_relu", slope = 0.2 },\n    { type = "dense", units = 1 },'),
        ("discriminator_trainable = 533505\ndiscriminator_non_trainable = 0",
         "discriminator_trainable = 534017\ndiscriminator_non_trainable = 512"),
    ):
        assert old in text
        text = text.replace(old, new)
    recipe = parse_card(text, "mlp-with-d-batch-norm.toml").recipe("seed002")
    cfg = TrainConfig(model_id="mlp-torch", recipe="seed002", dataset="random", batch_size=16,
                      device="cpu", max_steps=2, extra=ONE_THREAD)
    trainer = create_backend(None).create_trainer(recipe, cfg, images)
    trainer.run_steps(0, 0, 1)
    stats = part(trainer.weights(), "discriminator.4")
    assert len(stats) == 4
    trainer.steps.generator_step(frozen_d=True)
    assert_same_arrays(stats, part(trainer.weights(), "discriminator.4"))
    assert trainer.discriminator.training and trainer.discriminator[4].training
    trainer.steps.generator_step()  # the alternating style's D is not frozen
    assert changed(stats, part(trainer.weights(), "discriminator.4"))


def test_combined_step_draws_fakes_in_inference_mode(images):
    trainer = make_trainer("combined-separate", images)
    modes = []
    trainer.generator[2].register_forward_pre_hook(lambda m, _: modes.append(m.training))
    trainer.run_steps(0, 0, 1)
    assert modes == [False, True]  # predict (running BN statistics), then the G step
    assert trainer.generator.training


def test_same_seed_same_weights_other_seed_other_weights(images):
    """From the *same* initial weights, the seed alone (batch order, noise, dropout) decides
    the run: another seed must train to other weights, the same seed to the same ones."""
    initial = make_trainer("simultaneous", images, seed=3).weights()
    runs = []
    for seed in (3, 3, 4):
        trainer = make_trainer("simultaneous", images, seed=seed)
        trainer.load_state(initial)
        trainer.run_steps(0, 0, 2)
        runs.append(trainer.weights())
    assert_same_arrays(runs[0], runs[1])
    assert changed(part(runs[0], "generator"), part(runs[2], "generator"))
    assert changed(part(runs[0], "discriminator"), part(runs[2], "discriminator"))


@pytest.mark.parametrize("style", STYLES)
def test_resume_is_bit_identical_mid_epoch_and_across_epochs(style, images):
    straight = make_trainer(style, images)
    expected = [straight.run_steps(0, 0, 3), straight.run_steps(1, 0, 2)]

    first = make_trainer(style, images)
    first.run_steps(0, 0, 2)
    saved = first.state()
    resumed = make_trainer(style, images, seed=0)
    resumed.run_steps(0, 0, 1)  # disturb it: load_state must overwrite everything
    resumed.load_state(saved)
    tail = resumed.run_steps(0, 2, 1)
    got = resumed.run_steps(1, 0, 2)

    assert got == expected[1]
    assert_same_arrays(straight.state(), resumed.state())
    assert math.isfinite(tail["d_loss"])


def test_state_round_trip(images):
    trainer = make_trainer("simultaneous", images)
    trainer.run_steps(0, 0, 1)
    state = trainer.state()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert {"rng.torch_cpu", "rng.noise.cpu"} <= state.keys()
    assert state["rng.torch_cpu"].dtype == np.uint8
    assert "optim.generator.0.exp_avg" in state and "optim.discriminator.0.step" in state
    assert "generator.1.running_var" in state
    assert not any(k.endswith("num_batches_tracked") for k in state)
    other = make_trainer("simultaneous", images, seed=9)
    other.load_state(state)
    assert_same_arrays(state, other.state())


def test_sgd_state_round_trip(images):
    recipe = CARDS["mlp"].recipe("seed003")
    cfg = TrainConfig(model_id="mlp-torch", recipe="seed003", dataset="random", batch_size=16,
                      device="cpu", max_steps=2, extra=ONE_THREAD)
    trainer = create_backend(None).create_trainer(recipe, cfg, images)
    trainer.run_steps(0, 0, 2)
    state = trainer.state()
    assert not any(k.startswith("optim.") for k in state)  # plain SGD keeps no slots
    fresh = create_backend(None).create_trainer(recipe, cfg, images)
    fresh.load_state(state)
    assert_same_arrays(state, fresh.state())


def test_loaded_generator_reproduces_trainer_samples(images):
    trainer = make_trainer("simultaneous", images)
    trainer.run_steps(0, 0, 2)
    noise = np.random.default_rng(5).standard_normal((6, 100)).astype(np.float32)
    samples = trainer.sample(noise)
    assert samples.shape == (6, 28, 28, 1) and samples.dtype == np.float32
    assert np.abs(samples).max() <= 1
    assert trainer.generator.training  # back in training mode
    recipe = CARDS["dcgan"].recipe()
    generator = create_backend(None).load_generator(recipe, trainer.weights())
    assert generator.latent_dim == 100
    np.testing.assert_allclose(generator.generate(noise), samples, rtol=0, atol=1e-6)
    # Neither sampling nor another trainer's steps shift this trainer's random streams.
    again = make_trainer("simultaneous", images)
    again.run_steps(0, 0, 2)
    torch.rand(10)
    assert trainer.run_steps(0, 2, 1) == again.run_steps(0, 2, 1)


def test_creating_a_trainer_leaves_the_global_stream_alone(images):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_trainer("alternating", images).run_steps(0, 0, 1)
    assert torch.equal(torch.rand(3), expected)


def test_out_of_epoch_steps_are_refused(images):
    trainer = make_trainer("alternating", images)
    with pytest.raises(ValueError, match="outside"):
        trainer.run_steps(0, 2, 2)


def test_steps_per_epoch_drops_the_partial_batch(images):
    trainer = make_trainer("alternating", images[:100], max_steps=None)
    assert trainer.steps_per_epoch == 100 // 16


def test_bf16_autocast_runs_on_cpu(images):
    trainer = make_trainer("alternating", images, amp=True)
    metrics = trainer.run_steps(0, 0, 2)
    assert all(math.isfinite(v) for v in metrics.values())
    assert all(v.dtype == np.float32 for v in trainer.weights().values())


@pytest.mark.slow
def test_compiled_networks_train_like_eager_ones(images):
    eager = make_trainer("combined-separate", images)  # no dropout: the same arithmetic
    compiled = make_trainer("combined-separate", images, compile=True)
    expected, got = eager.run_steps(0, 0, 2), compiled.run_steps(0, 0, 2)
    for key in expected:
        assert got[key] == pytest.approx(expected[key], rel=1e-3, abs=1e-4)
    assert compiled.state().keys() == eager.state().keys()  # state is the modules', unprefixed
