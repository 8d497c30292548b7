"""Noise: the range and moments of every noise kind, in the core (``ganzoo.noise``) and in the
noise each backend's trainer feeds its steps (built from a card recipe naming that kind).

Bounds: 210,000 values per check, and every moment bound is 6 standard errors of its
estimate (for U(-1, 1): mean 0 +- 0.0075, variance 1/3 +- 0.004, P(|x| < 0.5) = 0.5 +- 0.0066;
for N(0, 1): mean 0 +- 0.013, variance 1 +- 0.019, P(|x| < 1) = 0.6827 +- 0.0061). A correct
sampler fails one with probability below 1e-8; the seeds are fixed, so the draws (and the
outcome) are the same on every run anyway. The mistakes they are for are far outside: U(0, 1)
has mean 0.5 and variance 1/12; a uniform scaled to variance 1 has P(|x| < 1) = 0.577.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
from gan_reference import golden_recipe
from step_drivers import keras_trainer, torch_trainer

from ganzoo.noise import draw_noise

torch = pytest.importorskip("torch")  # before tensorflow, always

ROWS, LATENT = 70_000, 3  # the golden card's latent size
N = ROWS * LATENT
KINDS = ("normal", "uniform")
BACKENDS = ["torch"] + (["keras"] if importlib.util.find_spec("tensorflow") else [])


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    threads = torch.get_num_threads()  # the torch trainer sets the process-wide count
    yield
    torch.set_num_threads(threads)


def six_sigma(variance_of_one: float) -> float:
    return 6 * math.sqrt(variance_of_one / N)


def assert_distribution(z: np.ndarray, kind: str) -> None:
    assert z.shape == (ROWS, LATENT) and z.dtype == np.float32
    assert len(np.unique(z, axis=0)) == ROWS  # every row its own draw
    x = z.astype(np.float64).ravel()
    if kind == "uniform":
        assert x.min() >= -1.0 and x.max() < 1.0
        assert x.min() < -0.999 and x.max() > 0.999  # the whole interval is reached
        assert abs(x.mean()) < six_sigma(1 / 3)
        # Var(sample variance) ~ (mu4 - sigma^4) / N, mu4 = 1/5 for U(-1, 1).
        assert abs(x.var() - 1 / 3) < six_sigma(1 / 5 - 1 / 9)
        assert abs(np.mean(np.abs(x) < 0.5) - 0.5) < six_sigma(0.25)
        for column in z.T:  # no latent dimension is left out or shifted
            assert abs(column.mean()) < 6 * math.sqrt(1 / 3 / ROWS)
    else:
        assert abs(x.mean()) < six_sigma(1.0)
        assert abs(x.var() - 1.0) < six_sigma(2.0)  # mu4 - sigma^4 = 3 - 1
        inside = math.erf(1 / math.sqrt(2))
        assert abs(np.mean(np.abs(x) < 1.0) - inside) < six_sigma(inside * (1 - inside))
        assert x.min() < -4 and x.max() > 4  # tails, not a bounded distribution
        for column in z.T:
            assert abs(column.mean()) < 6 * math.sqrt(1 / ROWS)


@pytest.mark.parametrize("kind", KINDS)
def test_core_noise(kind):
    z = draw_noise(kind, ROWS, LATENT, seed=0)
    assert_distribution(z, kind)
    np.testing.assert_array_equal(draw_noise(kind, 10, LATENT, 1), draw_noise(kind, 10, LATENT, 1))
    assert not np.array_equal(draw_noise(kind, 10, LATENT, 1), draw_noise(kind, 10, LATENT, 2))


def test_core_noise_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown noise kind"):
        draw_noise("gaussian", 2, LATENT, 0)


def trainer_noise(backend: str, kind: str):
    """The function the trainer's steps draw latent batches from, as numpy."""
    recipe = golden_recipe("simultaneous", noise=kind)
    if backend == "torch":
        trainer = torch_trainer(recipe, {}, 4, load=False)
        return lambda n: trainer.steps.noise(n).cpu().numpy()
    trainer = keras_trainer(recipe, {}, 4, load=False)
    return lambda n: np.asarray(trainer.steps.noise(n))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_trainer_noise(backend, kind):
    draw = trainer_noise(backend, kind)
    first = draw(ROWS)
    assert_distribution(first, kind)
    second = draw(ROWS)
    assert not np.array_equal(first[:100], second[:100])  # the stream moves on
