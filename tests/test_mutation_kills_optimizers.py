"""Optimisers of both backends, checked against a hand computation and through a save/load.

Written for the mutants mutation testing left alive (docs/testing.md): the card-settings test
reads the settings back, these check what the optimisers then do with them — one Adam and
one SGD-with-momentum update against numpy, the fused Keras Adam against the textbook formula,
and the torch optimiser state surviving ``optimizer_state`` -> ``load_optimizer_state`` (the
checkpoint path) so that the next step is the one an uninterrupted run takes.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ganzoo.cards import OptimizerSpec

torch = pytest.importorskip("torch")  # before tensorflow, always

HAS_KERAS = importlib.util.find_spec("tensorflow") is not None
ADAM = OptimizerSpec("adam", {"lr": 0.01, "beta1": 0.5, "beta2": 0.9, "epsilon": 1e-3})
SGD = OptimizerSpec("sgd", {"lr": 0.1, "momentum": 0.7})
P0 = np.array([[0.5, -1.0, 2.0], [0.25, 0.0, -3.0]], np.float32)
GRADS = [np.array([[0.3, -0.2, 1.5], [-0.7, 0.05, 0.0]], np.float32),
         np.array([[-0.1, 0.4, 0.5], [0.2, -0.3, 1.0]], np.float32)]


def numpy_adam(p, grads, lr, b1, b2, eps):
    p, m, v = p.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def numpy_momentum(p, grads, lr, mu):
    p, buf = p.astype(np.float64), None
    for g in grads:
        buf = g if buf is None else mu * buf + g
        p = p - lr * buf
    return p


def torch_run(spec, grads, param=None):
    from ganzoo_torch.optimizers import make_optimizer

    param = param if param is not None else torch.nn.Parameter(torch.from_numpy(P0.copy()))
    optimizer = make_optimizer(spec, [param])
    for g in grads:
        param.grad = torch.from_numpy(g.copy())
        optimizer.step()
    return param, optimizer


@pytest.mark.parametrize(("spec", "expected"), [
    (ADAM, numpy_adam(P0, GRADS, 0.01, 0.5, 0.9, 1e-3)),
    (SGD, numpy_momentum(P0, GRADS, 0.1, 0.7)),
], ids=["adam", "sgd"])
def test_torch_updates_match_the_hand_computation(spec, expected):
    param, _ = torch_run(spec, GRADS)
    np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_torch_state_is_named_per_network_slot_and_detached():
    _, optimizer = torch_run(ADAM, GRADS)
    from ganzoo_torch.optimizers import optimizer_state

    state = optimizer_state(optimizer, "generator")
    assert set(state) == {"optim.generator.0.exp_avg", "optim.generator.0.exp_avg_sq",
                          "optim.generator.0.step"}
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert float(state["optim.generator.0.step"]) == 2.0
    m = 0.5 * (0.5 * GRADS[0]) + 0.5 * GRADS[1]
    np.testing.assert_allclose(state["optim.generator.0.exp_avg"], m, rtol=1e-6)
    # a copy: changing the saved array leaves the optimiser alone
    state["optim.generator.0.exp_avg"][...] = 99.0
    exp_avg = next(iter(optimizer.state.values()))["exp_avg"]
    assert float(exp_avg.abs().max()) < 99.0


@pytest.mark.parametrize("spec", [ADAM, SGD], ids=["adam", "sgd"])
def test_torch_state_round_trip_continues_the_same_run(spec):
    from ganzoo_torch.optimizers import load_optimizer_state, make_optimizer, optimizer_state

    more = [np.full_like(P0, 0.3), np.linspace(-1, 1, P0.size, dtype=np.float32).reshape(P0.shape)]
    straight, _ = torch_run(spec, GRADS + more)
    first, optimizer = torch_run(spec, GRADS)
    saved = optimizer_state(optimizer, "discriminator")
    # another network's slots in the same file are not this one's
    saved |= {k.replace("discriminator", "generator"): v * 0 + 5 for k, v in saved.items()}
    resumed = torch.nn.Parameter(first.detach().clone())
    fresh = make_optimizer(spec, [resumed])
    load_optimizer_state(fresh, "discriminator", saved)
    for g in more:
        resumed.grad = torch.from_numpy(g.copy())
        fresh.step()
    np.testing.assert_allclose(resumed.detach().numpy(), straight.detach().numpy(),
                               rtol=1e-6, atol=1e-7)


def test_torch_loading_no_keys_is_a_fresh_optimiser():
    from ganzoo_torch.optimizers import load_optimizer_state, make_optimizer

    param = torch.nn.Parameter(torch.from_numpy(P0.copy()))
    optimizer = make_optimizer(ADAM, [param])
    load_optimizer_state(optimizer, "generator", {"optim.discriminator.0.step": np.array(3.0)})
    assert len(optimizer.state) == 0


def test_torch_loaded_slots_take_the_parameters_memory_layout():
    from ganzoo_torch.optimizers import load_optimizer_state, make_optimizer, optimizer_state

    def conv_param():
        w = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2) / 10
        return torch.nn.Parameter(w.contiguous(memory_format=torch.channels_last))

    param = conv_param()
    optimizer = make_optimizer(ADAM, [param])
    param.grad = torch.ones_like(param)
    optimizer.step()
    saved = optimizer_state(optimizer, "generator")
    again = conv_param()
    fresh = make_optimizer(ADAM, [again])
    load_optimizer_state(fresh, "generator", saved)
    slots = fresh.state[again]
    for name in ("exp_avg", "exp_avg_sq"):
        assert slots[name].is_contiguous(memory_format=torch.channels_last), name
        np.testing.assert_array_equal(slots[name].numpy(), saved[f"optim.generator.0.{name}"])


@pytest.mark.keras
@pytest.mark.skipif(not HAS_KERAS, reason="tensorflow is not installed")
@pytest.mark.parametrize(("spec", "expected"), [
    (ADAM, numpy_adam(P0, GRADS, 0.01, 0.5, 0.9, 1e-3)),
    (SGD, numpy_momentum(P0, GRADS, 0.1, 0.7)),
], ids=["adam", "sgd"])
def test_keras_updates_match_the_hand_computation(spec, expected):
    from ganzoo_keras.optimizers import make_optimizer
    from ganzoo_keras.runtime import keras

    optimizer = make_optimizer(spec)
    variable = keras.Variable(P0.copy())
    for g in GRADS:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
    got = np.asarray(variable.numpy())
    if spec.name == "sgd":
        # Keras' momentum form: v = mu v - lr g; p += v (equal to torch's when lr is constant)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    else:
        # ApplyAdam folds epsilon into the bias-corrected denominator as eps*sqrt(1-b2^t)
        p, m, v = P0.astype(np.float64), 0.0, 0.0
        for t, g in enumerate(GRADS, start=1):
            m, v = 0.5 * m + 0.5 * g, 0.9 * v + 0.1 * g * g
            alpha = 0.01 * np.sqrt(1 - 0.9**t) / (1 - 0.5**t)
            p = p - alpha * m / (np.sqrt(v) + 1e-3)
        np.testing.assert_allclose(got, p, rtol=1e-5, atol=1e-6)
        # and within the epsilon placement of the textbook formula
        np.testing.assert_allclose(got, expected, atol=2e-3)


@pytest.mark.keras
@pytest.mark.skipif(not HAS_KERAS, reason="tensorflow is not installed")
def test_keras_refuses_an_optimiser_it_has_no_counterpart_for():
    from ganzoo_keras.optimizers import make_optimizer

    with pytest.raises(ValueError, match="optimizer 'rmsprop' has no Keras counterpart"):
        make_optimizer(OptimizerSpec("rmsprop", {"lr": 0.1}))
