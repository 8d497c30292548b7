"""Golden steps: each step kind of each backend, on a tiny fixed card, against numpy.

The expected losses, updated weights and batch-norm statistics come from ``gan_reference``: a
float64 forward pass, gradients by central differences and the optimisers' formulas, written
from the seeds' maths (G trained toward the *real* label, D toward real = 1 / fake = 0, the
combined kind's fakes from G in inference mode and G's update through D with D's batch norm in
inference mode and untouched, ``d_batches`` concat = one update on both halves, separate = two).

Tolerance: the backends compute in float32 (relative error ~1e-7 on values of order 1, a few
ulps more through the networks), the reference in float64 with gradient error ~1e-9; the
largest effect is an update's sensitivity to a gradient error (SGD: lr = 0.1; Adam with
epsilon 1e-3: at most lr / epsilon = 10). 5e-5 absolute holds that with margin, while every
mistake these tests are for moves some value by 1e-3 or (much) more.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from gan_reference import ADAM, BATCH, IMAGE, LATENT, SGD, Reference, golden_recipe, initial_weights
from step_drivers import keras_step, keras_trainer, noise_draws, torch_step, torch_trainer

torch = pytest.importorskip("torch")  # before tensorflow, always

BACKENDS = ["torch"]
if importlib.util.find_spec("tensorflow") is not None:
    BACKENDS.append("keras")

KINDS = {  # id -> (step, d_batches)
    "simultaneous": ("simultaneous", "separate"),
    "alternating": ("alternating", "separate"),
    "combined-separate": ("combined", "separate"),
    "combined-concat": ("combined", "concat"),
}
# SGD: one step, the update is lr * gradient, so the gradients themselves are checked.
# Adam: two steps, so both moments, both betas and the bias corrections enter the result.
OPTIMIZERS = {"sgd": (SGD, 1), "adam": (ADAM, 2)}
ATOL = 5e-5


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    threads = torch.get_num_threads()  # the torch trainer sets the process-wide count
    yield
    torch.set_num_threads(threads)


def fixed_inputs(steps: int, draws: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    reals = [rng.uniform(-1, 1, (BATCH, *IMAGE)).astype(np.float32) for _ in range(steps)]
    noises = [[rng.standard_normal((BATCH, LATENT)).astype(np.float32) for _ in range(draws)]
              for _ in range(steps)]
    return reals, noises


def run_backend(backend: str, recipe, weights, reals, noises):
    make, step = ((torch_trainer, torch_step) if backend == "torch"
                  else (keras_trainer, keras_step))
    trainer = make(recipe, weights, BATCH)
    metrics = [step(trainer, real, noise) for real, noise in zip(reals, noises, strict=True)]
    return metrics, trainer.weights()


def assert_matches(got_metrics, got_weights, ref_metrics, ref_weights):
    for step, (got, want) in enumerate(zip(got_metrics, ref_metrics, strict=True)):
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=ATOL), f"step {step + 1}: {key}"
    assert got_weights.keys() == ref_weights.keys()
    for key, want in ref_weights.items():
        np.testing.assert_allclose(got_weights[key], want, rtol=0, atol=ATOL, err_msg=key)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_step_matches_the_hand_computation(backend, kind, optimizer):
    text, steps = OPTIMIZERS[optimizer]
    recipe = golden_recipe(*KINDS[kind], optimizer=text)
    weights = initial_weights(recipe)
    reals, noises = fixed_inputs(steps, noise_draws(recipe))
    reference = Reference(recipe, weights, keras_epsilon=backend == "keras")
    ref_metrics = [reference.step(real, iter(noise))
                   for real, noise in zip(reals, noises, strict=True)]
    got_metrics, got_weights = run_backend(backend, recipe, weights, reals, noises)
    assert_matches(got_metrics, got_weights, ref_metrics, reference.weights)


@pytest.mark.parametrize("backend", BACKENDS)
def test_combined_step_freezes_the_discriminators_batch_norm(backend):
    """Through the combined step itself: D's BN statistics are what D's own update(s) left,
    and G's update saw D's BN in inference mode. An unfrozen reference must differ, so the
    check cannot pass by accident."""
    recipe = golden_recipe("combined", "separate")
    weights = initial_weights(recipe)
    reals, noises = fixed_inputs(1, 2)
    frozen = Reference(recipe, weights, keras_epsilon=backend == "keras")
    frozen.step(reals[0], iter(noises[0]))
    _, got = run_backend(backend, recipe, weights, reals, noises)

    # What a combined step that forgot the freeze would compute.
    unfrozen = Reference(recipe, weights, keras_epsilon=backend == "keras")
    unfrozen._generator_update = lambda z, frozen_d: Reference._generator_update(
        unfrozen, z, frozen_d=False)
    unfrozen.step(reals[0], iter(noises[0]))

    stats = [k for k in got if k.startswith("discriminator.") and "running" in k]
    g_keys = [k for k in got if k.startswith("generator.") and "running" not in k]
    assert len(stats) == 2
    for key in stats + g_keys:
        np.testing.assert_allclose(got[key], frozen.weights[key], rtol=0, atol=ATOL,
                                   err_msg=key)
    for keys in (stats, g_keys):
        assert max(np.abs(unfrozen.weights[k] - frozen.weights[k]).max() for k in keys) > 1e-3
