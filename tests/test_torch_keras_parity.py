"""Canonical weights give the same outputs in torch as in the Keras layers the seeds use.

The Keras networks here are built with plain ``keras.layers`` straight from the card (not
through ganzoo's Keras plugin), so this pins the torch side to Keras itself.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ganzoo.cards import builtin_cards

torch = pytest.importorskip("torch")
if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("tensorflow is not installed", allow_module_level=True)

from ganzoo_torch.builder import build_network  # noqa: E402
from ganzoo_torch.canonical import canonical_weights, load_canonical_weights  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.keras]

# Every card's default recipe, and mlp's seed002 (its networks differ from seed004's). The
# plain-Keras reference here is sequential: conditional recipes (a label as a second input)
# have their own parity tests.
CASES = sorted({("mlp", "seed002")} | {(c.family, c.default_recipe) for c in builtin_cards()
                                       if getattr(c.recipe().generator, "label", None) is None})
# The training-mode test needs batch norm in the generator.
BN_CASES = [case for case in CASES if any(
    layer.kind == "batch_norm" for layer in
    next(c for c in builtin_cards() if c.family == case[0]).recipe(case[1]).generator.layers)]


def spectral_normalised(weight, u):
    """numpy: ``weight / sigma`` by one power iteration from ``u`` (canonical layout, units
    first), the inference-mode computation of docs/cards.md."""
    matrix = weight.reshape(weight.shape[0], -1).astype(np.float64)
    v = matrix.T @ u
    v /= np.linalg.norm(v)
    new_u = matrix @ v
    new_u /= np.linalg.norm(new_u)
    return (weight / (new_u @ matrix @ v)).astype(np.float32)


def keras_network(spec, weights, prefix):
    from ganzoo.frameworks import import_tensorflow

    import_tensorflow()  # never `import tensorflow` directly: torchvision must come first
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(spec.input_shape)])
    for layer in spec.layers:
        o = layer.options
        if layer.kind == "dense":
            model.add(layers.Dense(o["units"], use_bias=o["bias"]))
        elif layer.kind == "conv":
            model.add(layers.Conv2D(o["filters"], o["kernel"], o["stride"], padding=o["padding"],
                                    use_bias=o["bias"]))
        elif layer.kind == "conv_transpose":
            model.add(layers.Conv2DTranspose(o["filters"], o["kernel"], o["stride"],
                                             padding=o["padding"], use_bias=o["bias"]))
        elif layer.kind == "batch_norm":
            model.add(layers.BatchNormalization(momentum=o["momentum"], epsilon=o["epsilon"]))
        elif layer.kind == "layer_norm":
            model.add(layers.LayerNormalization(axis=-1, epsilon=o["epsilon"]))
        elif layer.kind == "leaky_relu":
            model.add(layers.LeakyReLU(o["slope"]))
        elif layer.kind == "dropout":
            model.add(layers.Dropout(o["rate"]))
        elif layer.kind == "reshape":
            model.add(layers.Reshape(o["shape"]))
        elif layer.kind == "flatten":
            model.add(layers.Flatten())
        else:
            model.add(layers.Activation(layer.kind))
    for i, (layer, keras_layer) in enumerate(zip(spec.layers, model.layers, strict=True)):
        name = f"{prefix}.{i}"
        bias = [weights[f"{name}.bias"]] if f"{name}.bias" in weights else []
        kernel = weights.get(f"{name}.weight")
        if layer.options.get("spectral_norm"):  # conv_transpose's units are its axis 1
            axis = 1 if layer.kind == "conv_transpose" else 0
            kernel = np.moveaxis(spectral_normalised(np.moveaxis(kernel, axis, 0),
                                                     weights[f"{name}.sn_u"]), 0, axis)
        if layer.kind == "dense":  # canonical (out, in) -> Keras (in, out)
            keras_layer.set_weights([kernel.T, *bias])
        elif layer.kind in ("conv", "conv_transpose"):  # (a, b, kh, kw) -> (kh, kw, b, a)
            keras_layer.set_weights([kernel.transpose(2, 3, 1, 0), *bias])
        elif layer.kind == "layer_norm":
            keras_layer.set_weights([weights[f"{name}.weight"], weights[f"{name}.bias"]])
        elif layer.kind == "batch_norm":
            keras_layer.set_weights([weights[f"{name}.{t}"] for t in
                                     ("weight", "bias", "running_mean", "running_var")])
    return model


@pytest.mark.parametrize(("family", "recipe_name"), CASES)
def test_keras_and_torch_agree_on_canonical_weights(family, recipe_name):
    recipe = next(c for c in builtin_cards() if c.family == family).recipe(recipe_name)
    rng = np.random.default_rng(0)
    for prefix in ("generator", "discriminator"):
        spec = getattr(recipe, prefix)
        net = build_network(spec)
        weights = canonical_weights(net, prefix)
        for key, value in weights.items():  # trained-looking BN statistics, biases and u
            if key.endswith(".sn_u"):  # a unit vector, as training leaves it
                u = rng.normal(0, 1, value.shape)
                weights[key] = (u / np.linalg.norm(u)).astype(np.float32)
            elif not key.endswith(".weight"):
                weights[key] = (rng.uniform(0.5, 1.5, value.shape) if key.endswith("var")
                                else rng.normal(0, 0.1, value.shape)).astype(np.float32)
        load_canonical_weights(net, spec, prefix, weights)
        x = rng.standard_normal((4, *spec.input_shape)).astype(np.float32)
        expected = keras_network(spec, weights, prefix)(x, training=False).numpy()
        xt = torch.from_numpy(x)
        with torch.no_grad():
            got = net.eval()(xt.permute(0, 3, 1, 2) if xt.dim() == 4 else xt)
        got = (got.permute(0, 2, 3, 1) if got.dim() == 4 else got).numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4, err_msg=prefix)


@pytest.mark.parametrize(("family", "recipe_name"), BN_CASES)
def test_training_forward_updates_batch_norm_statistics_as_keras_does(family, recipe_name):
    """Training mode: same outputs and the same moving mean and variance after two batches.

    The generators have no dropout, so a training-mode forward is deterministic in both. Torch
    blends the unbiased batch variance into its running variance, Keras the biased one; ganzoo's
    torch layers follow Keras.
    """
    recipe = next(c for c in builtin_cards() if c.family == family).recipe(recipe_name)
    spec = recipe.generator
    net = build_network(spec)
    weights = canonical_weights(net, "generator")
    model = keras_network(spec, weights, "generator")
    rng = np.random.default_rng(1)
    net.train()
    for _ in range(2):
        # Large inputs, so that batch variances are large and a wrong blend stands out.
        x = (10 * rng.standard_normal((16, *spec.input_shape))).astype(np.float32)
        expected = model(x, training=True).numpy()
        got = net(torch.from_numpy(x)).detach()
        got = (got.permute(0, 2, 3, 1) if got.dim() == 4 else got).numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    trained = canonical_weights(net, "generator")
    stats = 0
    for i, (layer, keras_layer) in enumerate(zip(spec.layers, model.layers, strict=True)):
        if layer.kind == "batch_norm":
            _, _, mean, var = (w for w in keras_layer.get_weights())
            np.testing.assert_allclose(trained[f"generator.{i}.running_mean"], mean, atol=1e-5)
            np.testing.assert_allclose(trained[f"generator.{i}.running_var"], var, rtol=1e-4,
                                       atol=1e-6)
            stats += 1
    assert stats >= 1
