"""The card vocabulary added for WGAN-GP, LSGAN and SNGAN: ``spectral_norm`` and ``layer_norm``.

Card parsing and its errors, parameter counts (as Keras reports them), canonical names, and
torch/Keras parity of every new layer in inference and training mode. Tolerance: outputs agree
to 1e-5 absolute (float32; both backends compute the same arithmetic in different orders,
measured differences are below 1e-6), the stored ``u`` to 1e-6.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ganzoo.architecture import parse_net
from ganzoo.errors import CardError

torch = pytest.importorskip("torch")
if importlib.util.find_spec("tensorflow") is None:  # not importorskip: torch must load first
    pytest.skip("the keras extra is not installed", allow_module_level=True)

from ganzoo_keras.builder import build_network as keras_build  # noqa: E402
from ganzoo_keras.canonical import from_canonical, to_canonical  # noqa: E402
from ganzoo_keras.runtime import keras, tf  # noqa: E402
from ganzoo_torch.builder import build_network, speed_up_for  # noqa: E402
from ganzoo_torch.canonical import canonical_weights  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.keras]

ATOL = 1e-5

# Each new layer alone (after a conv, so there is something to normalise), on shapes whose
# input and output unit counts differ, so a wrong "output axis" cannot pass unnoticed.
SINGLE_LAYERS = {
    "sn-dense": ((12,), [{"type": "dense", "units": 5, "spectral_norm": True}]),
    "sn-dense-on-image": ((4, 4, 3), [{"type": "dense", "units": 5, "spectral_norm": True}]),
    "sn-conv-same": ((9, 9, 2), [{"type": "conv", "filters": 6, "kernel": 4, "stride": 2,
                                   "spectral_norm": True}]),
    "sn-conv-valid": ((9, 9, 2), [{"type": "conv", "filters": 5, "kernel": 3,
                                    "padding": "valid", "spectral_norm": True}]),
    "sn-conv-transpose-same": ((5, 5, 3), [{"type": "conv_transpose", "filters": 4, "kernel": 4,
                                             "stride": 2, "spectral_norm": True}]),
    "sn-conv-transpose-stride1": ((5, 5, 3), [{"type": "conv_transpose", "filters": 2,
                                                "kernel": 3, "spectral_norm": True}]),
    "sn-conv-transpose-valid": ((5, 5, 3), [{"type": "conv_transpose", "filters": 2, "kernel": 3,
                                              "padding": "valid", "bias": False,
                                              "spectral_norm": True}]),
    "layer-norm-image": ((6, 6, 4), [{"type": "layer_norm"}]),
    "layer-norm-flat": ((7,), [{"type": "layer_norm", "epsilon": 1e-5}]),
}

# An SNGAN-style 28x28 discriminator and a WGAN-GP critic: what issue 13 needs to express.
SNGAN_D = [
    {"type": "conv", "filters": 8, "kernel": 3, "spectral_norm": True},
    {"type": "leaky_relu", "slope": 0.1},
    {"type": "conv", "filters": 16, "kernel": 4, "stride": 2, "spectral_norm": True},
    {"type": "leaky_relu", "slope": 0.1},
    {"type": "conv", "filters": 16, "kernel": 4, "stride": 2, "spectral_norm": True},
    {"type": "leaky_relu", "slope": 0.1},
    {"type": "flatten"},
    {"type": "dense", "units": 1, "spectral_norm": True},
]
WGANGP_CRITIC = [
    {"type": "conv", "filters": 8, "kernel": 5, "stride": 2},
    {"type": "leaky_relu", "slope": 0.2},
    {"type": "conv", "filters": 16, "kernel": 5, "stride": 2},
    {"type": "layer_norm"},
    {"type": "leaky_relu", "slope": 0.2},
    {"type": "flatten"},
    {"type": "dense", "units": 1},
]


def _spec(name):
    shape, layers = SINGLE_LAYERS[name]
    return parse_net(layers, shape, name)


def _both(spec, prefix="net", seed=0):
    """A torch net and a Keras model holding the same canonical weights (random biases)."""
    torch.manual_seed(seed)
    net = build_network(spec)
    weights = canonical_weights(net, prefix)
    rng = np.random.default_rng(seed)
    for key, value in weights.items():  # non-trivial layer-norm scales and offsets, biases
        if key.endswith(".bias") or (key.endswith(".weight") and value.ndim == 1):
            weights[key] = rng.normal(1.0 if key.endswith("weight") else 0.0, 0.3,
                                      value.shape).astype(np.float32)
    from ganzoo_torch.canonical import load_canonical_weights

    load_canonical_weights(net, spec, prefix, weights)
    model = keras_build(spec, prefix)
    from_canonical(model, prefix, weights)
    return net, model, weights


def _torch_forward(net, x, training):
    net.train(training)
    xt = torch.from_numpy(x)
    y = net(xt.permute(0, 3, 1, 2) if xt.dim() == 4 else xt).detach()
    return (y.permute(0, 2, 3, 1) if y.dim() == 4 else y).numpy()


def _input(spec, n=4, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((n, *spec.input_shape))).astype(np.float32)


# --- parsing and validation ---------------------------------------------------------------


@pytest.mark.parametrize(("layer", "message"), [
    ({"type": "conv", "filters": 4, "kernel": 3, "spectral_norm": "yes"},
     "net.layers[0].spectral_norm: expected true or false, got 'yes'"),
    ({"type": "dense", "units": 4, "spectral_norm": 1},
     "net.layers[0].spectral_norm: expected true or false, got 1"),
    ({"type": "batch_norm", "spectral_norm": True},
     "layer type 'batch_norm' has no kernel to normalise; spectral_norm applies to dense, conv, "
     "conv_transpose"),
    ({"type": "layer_norm", "epsilon": 0}, None),  # allowed: 0 is in [0, 1)
    ({"type": "layer_norm", "epsilon": -1e-3},
     "net.layers[0].epsilon: expected a number in [0, 1), got -0.001"),
    ({"type": "layer_norm", "epsilon": "small"},
     "net.layers[0].epsilon: expected a number in [0, 1), got 'small'"),
    ({"type": "layer_norm", "axis": 1},
     "unknown key 'axis' for layer type 'layer_norm' (allowed: epsilon)"),
])
def test_new_layer_keys_are_validated_with_messages_that_name_the_key(layer, message):
    if message is None:
        parse_net([layer], (4, 4, 2), "net")
        return
    with pytest.raises(CardError) as info:
        parse_net([layer], (4, 4, 2), "net")
    assert message in str(info.value)


def test_defaults_are_keras_and_off():
    net = parse_net([{"type": "conv", "filters": 2, "kernel": 3}, {"type": "layer_norm"}],
                    (4, 4, 1), "net")
    assert net.layers[0]["spectral_norm"] is False
    assert net.layers[1]["epsilon"] == keras.layers.LayerNormalization().epsilon == 1e-3


# --- parameter counts and canonical names ----------------------------------------------------


@pytest.mark.parametrize("name", [*SINGLE_LAYERS, "sngan", "wgangp"])
def test_counts_and_canonical_names_agree_with_both_builds(name):
    if name in SINGLE_LAYERS:
        spec = _spec(name)
    else:
        spec = parse_net(SNGAN_D if name == "sngan" else WGANGP_CRITIC, (28, 28, 1), name)
    trainable, frozen = spec.parameter_counts()
    model = keras_build(spec, "net")
    assert trainable == sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert frozen == sum(int(np.prod(v.shape)) for v in model.non_trainable_weights)
    net = build_network(spec)
    assert trainable == sum(p.numel() for p in net.parameters())
    assert frozen == sum(b.numel() for key, b in net.named_buffers()
                         if not key.endswith("num_batches_tracked"))
    shapes = spec.tensor_shapes("net")
    assert {k: v.shape for k, v in canonical_weights(net, "net").items()} == shapes
    assert {k: v.shape for k, v in to_canonical(model, "net").items()} == shapes


def test_spectral_norm_counts_u_as_non_trainable_and_names_it_sn_u():
    spec = parse_net(SNGAN_D, (28, 28, 1), "d")
    # conv 3x3 1->8, 4x4 8->16, 4x4 16->16 (7x7 out), dense 784->1; u: 8 + 16 + 16 + 1.
    assert spec.parameter_counts() == (
        (9 * 8 + 8) + (16 * 8 * 16 + 16) + (16 * 16 * 16 + 16) + (7 * 7 * 16 + 1), 41)
    shapes = spec.tensor_shapes("d")
    assert shapes["d.0.sn_u"] == (8,) and shapes["d.7.sn_u"] == (1,)
    assert "d.1.sn_u" not in shapes
    # conv_transpose's units are its filters, on axis 1 of the canonical (in, out, kh, kw).
    ct = parse_net(SINGLE_LAYERS["sn-conv-transpose-same"][1], (5, 5, 3), "g")
    assert ct.tensor_shapes("g") == {"g.0.weight": (3, 4, 4, 4), "g.0.bias": (4,),
                                     "g.0.sn_u": (4,)}
    ln = parse_net(WGANGP_CRITIC, (28, 28, 1), "c")
    assert ln.tensor_shapes("c")["c.3.weight"] == (16,)
    assert ln.summary()[3].trainable == 32 and ln.summary()[3].non_trainable == 0


# --- torch / Keras parity --------------------------------------------------------------------


@pytest.mark.parametrize("name", SINGLE_LAYERS)
def test_inference_parity_and_u_left_alone(name):
    spec = _spec(name)
    net, model, weights = _both(spec)
    x = _input(spec)
    np.testing.assert_allclose(_torch_forward(net, x, False), model(x, training=False).numpy(),
                               rtol=0, atol=ATOL)
    for backend in (canonical_weights(net, "net"), to_canonical(model, "net")):
        for key in weights:
            if key.endswith("sn_u"):
                np.testing.assert_array_equal(backend[key], weights[key], err_msg=key)


@pytest.mark.parametrize("name", SINGLE_LAYERS)
def test_training_parity_including_the_power_iteration_update(name):
    spec = _spec(name)
    net, model, before = _both(spec)
    for step in range(3):
        x = _input(spec, seed=10 + step)
        np.testing.assert_allclose(_torch_forward(net, x, True),
                                   model(x, training=True).numpy(), rtol=0, atol=ATOL,
                                   err_msg=f"training forward {step}")
    got_t, got_k = canonical_weights(net, "net"), to_canonical(model, "net")
    for key in before:
        np.testing.assert_allclose(got_t[key], got_k[key], rtol=0, atol=1e-6, err_msg=key)
        if key.endswith("sn_u"):  # the training forwards did move u
            assert np.abs(got_t[key] - before[key]).max() > 1e-3, key
    # And inference after training still agrees (it starts from the updated u).
    x = _input(spec, seed=99)
    np.testing.assert_allclose(_torch_forward(net, x, False), model(x, training=False).numpy(),
                               rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", [n for n in SINGLE_LAYERS if n.startswith("sn-")])
def test_gradients_flow_through_sigma_in_both_backends(name):
    """d(output . r)/d(weight), canonical layout: equal in torch and Keras, and not the
    gradient one gets when sigma is treated as a constant."""
    spec = _spec(name)
    net, model, _ = _both(spec)
    x = _input(spec)
    r = np.random.default_rng(5).standard_normal(
        (len(x), *spec.output_shape)).astype(np.float32)
    net.train()
    xt = torch.from_numpy(x)
    y = net(xt.permute(0, 3, 1, 2) if xt.dim() == 4 else xt)
    y = y.permute(0, 2, 3, 1) if y.dim() == 4 else y
    (y * torch.from_numpy(r)).sum().backward()
    torch_grad = net[0].weight.grad.numpy()

    layer = model.layers[0]
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = tf.reduce_sum(out * r)
    kernel_grad = tape.gradient(loss, layer.kernel).numpy()
    keras_grad = kernel_grad.T if kernel_grad.ndim == 2 else kernel_grad.transpose(3, 2, 0, 1)
    np.testing.assert_allclose(torch_grad, keras_grad, rtol=1e-4, atol=1e-5)

    # Against sigma as a constant: the gradient would be grad(plain layer) / sigma.
    with torch.no_grad():
        sigma = (net[0].weight / net[0].eval().kernel()).flatten()[0].item()
    plain = build_network(parse_net([{**spec.layers[0].options, "type": spec.layers[0].kind,
                                      "spectral_norm": False}], spec.input_shape, "p"))
    with torch.no_grad():
        plain[0].weight.copy_(net[0].weight)
        if plain[0].bias is not None:
            plain[0].bias.copy_(net[0].bias)
    y = plain(xt.permute(0, 3, 1, 2) if xt.dim() == 4 else xt)
    y = y.permute(0, 2, 3, 1) if y.dim() == 4 else y
    (y * torch.from_numpy(r)).sum().backward()
    assert np.abs(torch_grad - plain[0].weight.grad.numpy() / sigma).max() > 1e-3


def test_torch_spectral_norm_matches_torchs_reference_implementation():
    """ganzoo's torch dense with spectral_norm = torch.nn.utils.spectral_norm (one power
    iteration per training forward), given the same weight and u."""
    spec = _spec("sn-dense")
    torch.manual_seed(0)
    net = build_network(spec).train()
    reference = torch.nn.utils.spectral_norm(torch.nn.Linear(12, 5))
    with torch.no_grad():
        reference.weight_orig.copy_(net[0].weight)
        reference.bias.copy_(net[0].bias)
        reference.weight_u.copy_(net[0].sn_u)
    for step in range(3):
        x = torch.from_numpy(_input(spec, seed=step))
        torch.testing.assert_close(net(x), reference(x), rtol=0, atol=1e-6)
        torch.testing.assert_close(net[0].sn_u, reference.weight_u, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["sn-conv-same", "sn-conv-transpose-same", "sn-dense"])
def test_the_normalised_kernel_has_spectral_norm_one(name):
    """After enough training forwards (power iterations), the kernel a layer computes with has
    largest singular value 1 in both backends, over the units axis of the canonical layout."""
    spec = _spec(name)
    net, model, _ = _both(spec)
    x = _input(spec)
    for _ in range(60):
        _torch_forward(net, x, True)
        model(x, training=True)
    layer = net[0].eval()
    axis = 1 if spec.layers[0].kind == "conv_transpose" else 0
    kernel = layer.kernel().detach().movedim(axis, 0).flatten(1).numpy()
    assert np.linalg.svd(kernel, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-4)
    from ganzoo_keras.layers import spectral_normalised

    k_layer = model.layers[0]
    k_kernel, _ = spectral_normalised(k_layer.kernel, k_layer.sn_u, k_layer.OUT_AXIS)
    k_kernel = np.asarray(k_kernel)
    k_matrix = np.moveaxis(k_kernel, k_layer.OUT_AXIS, -1).reshape(-1, k_kernel.shape[
        k_layer.OUT_AXIS])
    assert np.linalg.svd(k_matrix, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-4)


def test_layer_norm_uses_keras_epsilon_where_it_matters():
    """Inputs whose per-position variance (~1e-4) is below the default epsilon (1e-3): torch's
    build must equal Keras' own ``LayerNormalization()`` with its defaults."""
    spec = _spec("layer-norm-image")
    torch.manual_seed(0)
    net = build_network(spec)
    x = _input(spec, scale=1e-2)
    expected = keras.layers.LayerNormalization()(x).numpy()
    got = _torch_forward(net, x, False)
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
    # The inputs are small enough for epsilon to matter: torch's default would differ a lot.
    other = keras.layers.LayerNormalization(epsilon=1e-5)(x).numpy()
    assert np.abs(other - expected).max() > 0.1


@pytest.mark.parametrize("layers", [SNGAN_D, WGANGP_CRITIC], ids=["sngan", "wgangp"])
def test_issue_13_discriminators_agree_across_backends(layers):
    spec = parse_net(layers, (28, 28, 1), "discriminator")
    net, model, _ = _both(spec, "discriminator")
    for training in (True, False):
        x = _input(spec, n=3, seed=int(training))
        np.testing.assert_allclose(_torch_forward(net, x, training),
                                   model(x, training=training).numpy(), rtol=0, atol=ATOL)
    assert spec.output_shape == (1,)


def test_fast_path_keeps_spectral_norm_outputs():
    """The CPU fast path computes a stride-1 transposed convolution as a convolution; with
    spectral_norm it must use the normalised kernel too."""
    spec = _spec("sn-conv-transpose-stride1")
    torch.manual_seed(0)
    plain = build_network(spec)
    fast = build_network(spec)
    fast.load_state_dict(plain.state_dict())
    speed_up_for(fast, torch.device("cpu"))
    assert fast[0].compute_as_conv
    x = _input(spec)
    for training in (True, False):
        np.testing.assert_allclose(_torch_forward(fast, x, training),
                                   _torch_forward(plain, x, training), rtol=0, atol=ATOL)


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_built_in_trainers_train_and_resume_spectral_norm_exactly(backend):
    """The built-in trainers carry ``sn_u`` in weights and state: training moves it, and a
    trainer restored from ``state()`` continues with the same losses."""
    from test_public_builder import CARD

    from ganzoo.cards import parse_card
    from ganzoo.protocols import TrainConfig

    if backend == "torch":
        from ganzoo_torch.trainer import TorchTrainer as Trainer
    else:
        from ganzoo_keras.trainer import KerasTrainer as Trainer
    recipe = parse_card(CARD, "test").recipe()
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    config = TrainConfig(model_id=f"snmini-{backend}", recipe="tiny", dataset="random",
                         batch_size=8, device="cpu", max_steps=4)
    trainer = Trainer(recipe, config, images)
    before = trainer.weights()
    trainer.run_steps(0, 0, 2)
    after = trainer.weights()
    assert set(after) == set(recipe.generator.tensor_shapes("generator")) | set(
        recipe.discriminator.tensor_shapes("discriminator"))
    assert np.abs(after["discriminator.0.sn_u"] - before["discriminator.0.sn_u"]).max() > 1e-3
    restored = Trainer(recipe, config, images)
    restored.load_state(trainer.state())
    assert restored.run_steps(0, 2, 2) == trainer.run_steps(0, 2, 2)
    np.testing.assert_array_equal(restored.weights()["discriminator.2.sn_u"],
                                  trainer.weights()["discriminator.2.sn_u"])


@pytest.mark.slow
def test_torch_compile_keeps_spectral_norm_gradients():
    """torch.compile'd training forwards give eager's outputs, u and weight gradients."""
    spec = parse_net([{"type": "conv", "filters": 4, "kernel": 3, "spectral_norm": True},
                      {"type": "flatten"}, {"type": "dense", "units": 1, "spectral_norm": True}],
                     (8, 8, 1), "d")
    torch.manual_seed(0)
    eager, other = build_network(spec), build_network(spec)
    other.load_state_dict(eager.state_dict())
    compiled = torch.compile(other)
    x = torch.randn(4, 1, 8, 8)
    for _ in range(2):
        for net in (eager, other):
            net.zero_grad()
        eager(x).sum().backward()
        compiled(x).sum().backward()
        for key in ("0.weight", "2.weight"):
            a, b = dict(eager.named_parameters())[key], dict(other.named_parameters())[key]
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(other[0].sn_u, eager[0].sn_u, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_keras_two_replicas_keep_one_u(tmp_path):
    """Under MirroredStrategy (two logical CPUs) each replica updates u from the same kernel;
    the variable stays mirrored and identical on both replicas after training steps."""
    import json
    import os
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    code = textwrap.dedent("""
        import json, sys
        import numpy as np
        import torch  # noqa: F401  (torch before tensorflow)
        from ganzoo.cards import parse_card
        from ganzoo.protocols import TrainConfig
        from ganzoo_keras.backend import create_backend
        from test_public_builder import CARD
        recipe = parse_card(CARD, "t").recipe()
        images = np.random.default_rng(0).integers(0, 256, (128, 28, 28, 1), dtype=np.uint8)
        config = TrainConfig(model_id="snmini-keras", recipe="tiny", dataset="random",
                             batch_size=16, seed=5, device="cpu", max_steps=2, devices=2)
        trainer = create_backend(None).create_trainer(recipe, config, images)
        before = trainer.weights()
        trainer.run_steps(0, 0, 2)
        out = {}
        for part in ("generator", "discriminator"):
            for var in trainer._model(part).variables:
                if var.path.endswith("sn_u"):
                    values = [v.numpy().tolist() for v in var.value.values]
                    out[var.path] = values
        moved = float(np.abs(trainer.weights()["discriminator.0.sn_u"]
                             - before["discriminator.0.sn_u"]).max())
        print(json.dumps({"u": out, "moved": moved}))
    """)
    env = dict(os.environ, GANZOO_HOME=str(tmp_path), PYTHONPATH=str(tests) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(result["u"]) == 4
    for path, values in result["u"].items():
        assert len(values) == 2 and values[0] == values[1], path
    assert result["moved"] > 1e-3
