"""The public builder, used as a third-party plugin would: only the names docs/plugins.md
documents (``ganzoo_torch.*``, ``ganzoo_keras.*``, ``ganzoo.cards``), no private module.

Networks built from a card in both backends have the card's parameter counts and canonical
tensors, and weights move torch -> Keras -> torch with equal outputs (1e-5 absolute).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from ganzoo.cards import builtin_cards, parse_card

torch = pytest.importorskip("torch")
if importlib.util.find_spec("tensorflow") is None:  # not importorskip: torch must load first
    pytest.skip("the keras extra is not installed", allow_module_level=True)

import ganzoo_keras  # noqa: E402
import ganzoo_torch  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.keras]

ATOL = 1e-5

# A small SNGAN-style family a plugin author might write: spectral norm and layer norm.
CARD = """
family = "snmini"
title = "A small spectrally normalised GAN"
description = "Test card: the public builder on the new vocabulary."
default_recipe = "tiny"

[provenance]
seed_documents = []
source = "tests/test_public_builder.py"

[recipes.tiny]
description = "tiny"
seed_document = ""
dataset = "mnist"
latent_dim = 16
noise = "normal"
batch_size = 8
epochs = 1
loss = "bce_logits"
step = "alternating"
optimizer.generator = { name = "adam" }
optimizer.discriminator = { name = "adam" }

[recipes.tiny.expected_params]
generator_trainable = 16313
generator_non_trainable = 1576
discriminator_trainable = 5281
discriminator_non_trainable = 25

[recipes.tiny.generator]
layers = [
    { type = "dense", units = 784, bias = false },
    { type = "batch_norm" },
    { type = "relu" },
    { type = "reshape", shape = [7, 7, 16] },
    { type = "conv_transpose", filters = 8, kernel = 4, stride = 2, spectral_norm = true },
    { type = "layer_norm" },
    { type = "relu" },
    { type = "conv_transpose", filters = 1, kernel = 4, stride = 2 },
    { type = "tanh" },
]

[recipes.tiny.discriminator]
layers = [
    { type = "conv", filters = 8, kernel = 3, spectral_norm = true },
    { type = "leaky_relu", slope = 0.1 },
    { type = "conv", filters = 16, kernel = 4, stride = 2, spectral_norm = true },
    { type = "leaky_relu", slope = 0.1 },
    { type = "flatten" },
    { type = "dense", units = 1, spectral_norm = true },
]
"""


def _recipes():
    dcgan = next(c for c in builtin_cards() if c.family == "dcgan").recipe("seed000")
    return {"snmini": parse_card(CARD, "test").recipe(), "dcgan": dcgan}


def _torch_out(net, x):
    with torch.no_grad():
        return ganzoo_torch.to_nhwc_numpy(net.eval()(_torch_in(x)))


def _torch_in(x):
    return ganzoo_torch.nhwc_to_tensor(x, torch.device("cpu")) if x.ndim == 4 \
        else torch.from_numpy(x)


def _counts_torch(net):
    trainable = sum(p.numel() for p in net.parameters())
    frozen = sum(t.numel() for name, t in net.state_dict().items()
                 if not name.endswith("num_batches_tracked")) - trainable
    return trainable, frozen


def _counts_keras(model):
    return (sum(int(np.prod(v.shape)) for v in model.trainable_weights),
            sum(int(np.prod(v.shape)) for v in model.non_trainable_weights))


@pytest.mark.parametrize("family", ["snmini", "dcgan"])
def test_both_builders_match_the_card_and_weights_round_trip(family):
    recipe = _recipes()[family]
    torch.manual_seed(0)
    g_t, d_t = ganzoo_torch.build_networks(recipe)
    g_k, d_k = ganzoo_keras.build_networks(recipe)
    counts = {}
    for part, t_net, k_net in (("generator", g_t, g_k), ("discriminator", d_t, d_k)):
        assert _counts_torch(t_net) == _counts_keras(k_net)
        counts[f"{part}_trainable"], counts[f"{part}_non_trainable"] = _counts_torch(t_net)
    assert counts == recipe.expected_params == recipe.parameter_counts()

    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, recipe.latent_dim)).astype(np.float32)
    images = rng.uniform(-1, 1, (6, *recipe.discriminator.input_shape)).astype(np.float32)
    # Training-mode forwards in torch move BN statistics and spectral-norm u off their start.
    g_t.train()(_torch_in(z))
    d_t.train()(_torch_in(images))

    for part, t_net, k_net, x in (("generator", g_t, g_k, z), ("discriminator", d_t, d_k,
                                                               images)):
        spec = getattr(recipe, part)
        weights = ganzoo_torch.canonical_weights(t_net, part)
        assert {k: v.shape for k, v in weights.items()} == spec.tensor_shapes(part)
        ganzoo_keras.load_canonical_weights(k_net, spec, part, weights)
        np.testing.assert_allclose(k_net(x, training=False).numpy(), _torch_out(t_net, x),
                                   rtol=0, atol=ATOL, err_msg=f"torch -> keras {part}")
        # Keras trains a little (moving its own statistics and u), then back to a fresh torch.
        if part == "discriminator" or family == "snmini":
            k_net(x, training=True)
        back = ganzoo_keras.canonical_weights(k_net, part)
        assert back.keys() == weights.keys()
        torch.manual_seed(1)
        fresh = ganzoo_torch.build_networks(recipe)[0 if part == "generator" else 1]
        ganzoo_torch.load_canonical_weights(fresh, spec, part, back)
        np.testing.assert_allclose(_torch_out(fresh, x), k_net(x, training=False).numpy(),
                                   rtol=0, atol=ATOL, err_msg=f"keras -> torch {part}")
        if family == "snmini" and part == "discriminator":
            moved = [k for k in back if k.endswith("sn_u")
                     and np.abs(back[k] - weights[k]).max() > 1e-4]
            assert moved, "a Keras training forward should move u"


def test_keras_loader_refuses_a_model_built_from_another_spec():
    from ganzoo.errors import WeightsFileError

    recipes = _recipes()
    torch.manual_seed(0)
    weights = ganzoo_torch.canonical_weights(
        ganzoo_torch.build_networks(recipes["snmini"])[1], "discriminator")
    other = ganzoo_keras.build_networks(recipes["dcgan"])[1]
    with pytest.raises(WeightsFileError, match="not built from this spec"):
        ganzoo_keras.load_canonical_weights(other, recipes["snmini"].discriminator,
                                            "discriminator", weights)


def test_importing_the_plugin_packages_imports_no_framework():
    code = ("import sys, ganzoo_torch, ganzoo_keras\n"
            "assert 'torch' not in sys.modules and 'tensorflow' not in sys.modules\n"
            "assert 'build_networks' in dir(ganzoo_torch)\n"
            "assert 'build_networks' in ganzoo_keras.__all__\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'build_everything'"):
        ganzoo_torch.build_everything  # noqa: B018
