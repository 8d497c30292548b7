"""The torch network builder: parameter counts, shapes, and the spec's layout conventions.

A small numpy reference of every layer kind, written in the spec's channels-last terms with
TensorFlow's padding rules, pins down what "the same network as Keras" means here.
"""

from __future__ import annotations

import numpy as np
import pytest

from ganzoo.architecture import parse_net
from ganzoo.cards import builtin_cards
from ganzoo.errors import WeightsFileError

torch = pytest.importorskip("torch")

from ganzoo_torch.backend import create_backend  # noqa: E402
from ganzoo_torch.builder import build_network  # noqa: E402
from ganzoo_torch.canonical import canonical_weights, load_canonical_weights  # noqa: E402
from ganzoo_torch.layers import tf_same_conv_padding, tf_same_transpose_padding  # noqa: E402

pytestmark = pytest.mark.torch



@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors gain nothing from more threads, and lose a lot on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


RECIPES = [(card.family, name, recipe) for card in builtin_cards()
           for name, recipe in card.recipes.items()]
RECIPE_IDS = [f"{family}-{name}" for family, name, _ in RECIPES]

# Every layer kind and option the vocabulary has, chained so that shapes are non-trivial:
# odd sizes (asymmetric "same" padding), valid padding, a dense layer on an image, a reshape
# from an image, biases on and off.
EVERY_KIND = parse_net([
    {"type": "conv", "filters": 4, "kernel": 4, "stride": 2},             # (7,7,2) -> (4,4,4)
    {"type": "batch_norm", "momentum": 0.8, "epsilon": 1e-3},
    {"type": "leaky_relu", "slope": 0.1},
    {"type": "conv_transpose", "filters": 3, "kernel": 5, "stride": 2},   # -> (8,8,3)
    {"type": "relu"},
    {"type": "conv", "filters": 2, "kernel": 3, "padding": "valid", "bias": False},  # (6,6,2)
    {"type": "conv_transpose", "filters": 2, "kernel": 2, "stride": 2, "padding": "valid"},
    {"type": "sigmoid"},                                                   # (12,12,2)
    {"type": "dense", "units": 3},                                         # (12,12,3)
    {"type": "dropout", "rate": 0.5},
    {"type": "reshape", "shape": [6, 24, 3]},
    {"type": "flatten"},                                                   # (432,)
    {"type": "dense", "units": 12, "bias": False},
    {"type": "batch_norm"},
    {"type": "tanh"},
    {"type": "reshape", "shape": [2, 2, 3]},
    {"type": "conv", "filters": 1, "kernel": 2, "stride": 1},              # (2,2,1)
], (7, 7, 2), "test")

# Shapes of rank 1 and 2 (sequence-like): batch norm and dense act on the last axis.
FLAT_KINDS = parse_net([
    {"type": "reshape", "shape": [4, 3]},
    {"type": "batch_norm", "momentum": 0.9},
    {"type": "dense", "units": 5},
    {"type": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 6},
    {"type": "batch_norm"},
], (12,), "test")


# -- parameter counts and shapes ------------------------------------------------------------


@pytest.mark.parametrize(("family", "name", "recipe"), RECIPES, ids=RECIPE_IDS)
def test_parameter_counts_equal_the_card(family, name, recipe):
    rows = create_backend(None).summary(recipe)
    counts = {}
    for part in ("generator", "discriminator"):
        mine = [r for r in rows if r.network == part]
        counts[f"{part}_trainable"] = sum(r.trainable for r in mine)
        counts[f"{part}_non_trainable"] = sum(r.non_trainable for r in mine)
        # The modules themselves agree with the summary rows.
        net = build_network(getattr(recipe, part))
        assert sum(p.numel() for p in net.parameters()) == counts[f"{part}_trainable"]
    assert counts == recipe.expected_params


def test_dcgan_counts_are_the_tutorials():
    recipe = next(c for c in builtin_cards() if c.family == "dcgan").recipe()
    rows = create_backend(None).summary(recipe)
    g = [r for r in rows if r.network == "generator"]
    assert sum(r.trainable for r in g) == 4_404_160
    assert sum(r.non_trainable for r in g) == 50_560
    assert sum(r.trainable for r in rows if r.network == "discriminator") == 212_865


@pytest.mark.parametrize(("family", "name", "recipe"), RECIPES, ids=RECIPE_IDS)
def test_summary_shapes_match_the_spec(family, name, recipe):
    rows = create_backend(None).summary(recipe)
    # A conditional network's label table is a row of its own (<part>.embedding).
    for part in ("generator", "discriminator"):
        label = getattr(recipe, part).label
        tables = [r for r in rows if r.name == f"{part}.embedding"]
        assert [(r.trainable, r.non_trainable) for r in tables] == (
            [] if label is None else [(label.parameters, 0)])
    rows = [r for r in rows if not r.name.endswith(".embedding")]
    expected = [("generator", s) for s in recipe.generator.summary()] + \
               [("discriminator", s) for s in recipe.discriminator.summary()]
    assert len(rows) == len(expected)
    for row, (part, spec_row) in zip(rows, expected, strict=True):
        assert row.network == part
        assert row.name == f"{part}.{spec_row.index}"
        assert row.output_shape == (None, *spec_row.output_shape)
        assert (row.trainable, row.non_trainable) == (spec_row.trainable, spec_row.non_trainable)


def test_every_layer_kind_has_the_spec_output_shape_and_counts():
    net = build_network(EVERY_KIND).eval()
    x = torch.zeros(3, 2, 7, 7)
    for module, row in zip(net, EVERY_KIND.summary(), strict=True):
        x = module(x)
        shape = tuple(x.shape[1:])
        if x.dim() == 4:
            shape = (shape[1], shape[2], shape[0])
        assert shape == row.output_shape, (row.index, row.kind)
        assert sum(p.numel() for p in module.parameters()) == row.trainable, row.kind


def test_state_dict_keys_are_the_canonical_names():
    for prefix, spec in (("generator", RECIPES[0][2].generator), ("net", EVERY_KIND)):
        weights = canonical_weights(build_network(spec), prefix)
        assert {k: v.shape for k, v in weights.items()} == spec.tensor_shapes(prefix)
        assert all(v.dtype == np.float32 for v in weights.values())


def test_batch_norm_converts_keras_momentum_and_epsilon():
    bn = build_network(EVERY_KIND)[1]
    assert isinstance(bn, torch.nn.BatchNorm2d)
    assert bn.momentum == pytest.approx(0.2) and bn.eps == pytest.approx(1e-3)
    assert isinstance(build_network(EVERY_KIND)[13], torch.nn.BatchNorm1d)


def test_initialisation_is_keras_style():
    net = build_network(parse_net([{"type": "dense", "units": 300}], (200,), "t"))
    bound = (6 / (200 + 300)) ** 0.5  # glorot-uniform
    assert net[0].weight.abs().max() <= bound
    assert net[0].weight.abs().max() > 0.9 * bound
    assert torch.count_nonzero(net[0].bias) == 0


# -- TensorFlow's "same" padding --------------------------------------------------------------


def test_same_padding_follows_tensorflow_formula():
    assert tf_same_conv_padding(28, 5, 2) == (1, 2)  # extra padding after, not before
    assert tf_same_conv_padding(14, 5, 2) == (1, 2)
    assert tf_same_conv_padding(7, 5, 1) == (2, 2)
    assert tf_same_conv_padding(5, 1, 2) == (0, 0)
    assert tf_same_transpose_padding(7, 5, 2) == (1, 2)  # full 17 rows, keep [1:15]
    assert tf_same_transpose_padding(7, 5, 1) == (2, 2)


def test_same_conv_on_a_hand_computed_case():
    # A 2x2 box filter with stride 2 on a 5x5 input: TF pads one zero row/column *after*.
    spec = parse_net([{"type": "conv", "filters": 1, "kernel": 2, "stride": 2, "bias": False}],
                     (5, 5, 1), "t")
    net = build_network(spec)
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        out = net(torch.arange(25.0).reshape(1, 1, 5, 5))[0, 0]
    expected = torch.tensor([[0 + 1 + 5 + 6, 2 + 3 + 7 + 8, 4 + 9],
                             [10 + 11 + 15 + 16, 12 + 13 + 17 + 18, 14 + 19],
                             [20 + 21, 22 + 23, 24]], dtype=torch.float32)
    assert torch.equal(out, expected)


def test_same_conv_transpose_on_a_hand_computed_case():
    # Ones through a 3x3 all-ones kernel, stride 2, 2x2 -> 4x4: the full 5x5 result cropped
    # at the end (TF: before 0, after 1).
    spec = parse_net([{"type": "conv_transpose", "filters": 1, "kernel": 3, "stride": 2,
                       "bias": False}], (2, 2, 1), "t")
    net = build_network(spec)
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        out = net(torch.ones(1, 1, 2, 2))[0, 0]
    expected = torch.tensor([[1, 1, 2, 1], [1, 1, 2, 1], [2, 2, 4, 2], [1, 1, 2, 1]],
                            dtype=torch.float32)
    assert torch.equal(out, expected)


# -- the whole vocabulary against a channels-last numpy reference -----------------------------


def _pad_same(size, kernel, stride):
    return tf_same_conv_padding(size, kernel, stride)


def _np_conv(x, w, b, stride, padding):
    n, h, wd, _ = x.shape
    f, _, k, _ = w.shape
    if padding == "same":
        (t, bo), (le, r) = _pad_same(h, k, stride), _pad_same(wd, k, stride)
        x = np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0)))
    oh, ow = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    out = np.zeros((n, oh, ow, f), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + k, j * stride:j * stride + k, :]
            out[:, i, j, :] = np.einsum("nabc,fcab->nf", patch, w)
    return out + (b if b is not None else 0)


def _np_conv_transpose(x, w, b, stride, padding):
    n, h, wd, _ = x.shape
    _, f, k, _ = w.shape
    full = np.zeros((n, (h - 1) * stride + k, (wd - 1) * stride + k, f), np.float64)
    for i in range(h):
        for j in range(wd):
            full[:, i * stride:i * stride + k, j * stride:j * stride + k, :] += np.einsum(
                "nc,cfab->nabf", x[:, i, j, :], w)
    if padding == "same":
        t, le = tf_same_transpose_padding(h, k, stride)[0], tf_same_transpose_padding(wd, k,
                                                                                      stride)[0]
        full = full[:, t:t + h * stride, le:le + wd * stride, :]
    return full + (b if b is not None else 0)


def _np_forward(spec, weights, prefix, x):
    """Inference-mode forward in channels-last terms (what Keras computes)."""
    for i, layer in enumerate(spec.layers):
        p, o, kind = f"{prefix}.{i}", layer.options, layer.kind
        bias = weights.get(f"{p}.bias")
        if kind == "dense":
            x = x @ weights[f"{p}.weight"].T + (bias if bias is not None else 0)
        elif kind == "conv":
            x = _np_conv(x, weights[f"{p}.weight"], bias, o["stride"], o["padding"])
        elif kind == "conv_transpose":
            x = _np_conv_transpose(x, weights[f"{p}.weight"], bias, o["stride"], o["padding"])
        elif kind == "batch_norm":
            x = (x - weights[f"{p}.running_mean"]) / np.sqrt(
                weights[f"{p}.running_var"] + o["epsilon"]) * weights[f"{p}.weight"] + bias
        elif kind == "leaky_relu":
            x = np.where(x > 0, x, o["slope"] * x)
        elif kind == "relu":
            x = np.maximum(x, 0)
        elif kind == "tanh":
            x = np.tanh(x)
        elif kind == "sigmoid":
            x = 1 / (1 + np.exp(-x))
        elif kind == "reshape":
            x = x.reshape(len(x), *o["shape"])
        elif kind == "flatten":
            x = x.reshape(len(x), -1)
    return x


def _random_weights(spec, prefix, rng):
    out = {}
    for key, shape in spec.tensor_shapes(prefix).items():
        if key.endswith("running_var"):
            out[key] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            out[key] = (rng.standard_normal(shape) * 0.3).astype(np.float32)
    return out


def _torch_forward(net, x_nhwc):
    x = torch.from_numpy(x_nhwc.astype(np.float32))
    if x.dim() == 4:
        x = x.permute(0, 3, 1, 2)
    with torch.no_grad():
        y = net.eval()(x)
    return (y.permute(0, 2, 3, 1) if y.dim() == 4 else y).numpy()


def test_every_layer_kind_matches_the_channels_last_reference():
    rng = np.random.default_rng(0)
    weights = _random_weights(EVERY_KIND, "net", rng)
    net = build_network(EVERY_KIND)
    load_canonical_weights(net, EVERY_KIND, "net", weights)
    x = rng.standard_normal((3, 7, 7, 2)).astype(np.float32)
    expected = _np_forward(EVERY_KIND, weights, "net", x.astype(np.float64))
    np.testing.assert_allclose(_torch_forward(net, x), expected, rtol=1e-4, atol=1e-4)


def test_sequence_shapes_match_the_channels_last_reference():
    rng = np.random.default_rng(2)
    weights = _random_weights(FLAT_KINDS, "net", rng)
    net = build_network(FLAT_KINDS)
    load_canonical_weights(net, FLAT_KINDS, "net", weights)
    x = rng.standard_normal((5, 12)).astype(np.float32)
    expected = _np_forward(FLAT_KINDS, weights, "net", x.astype(np.float64))
    np.testing.assert_allclose(_torch_forward(net, x), expected, rtol=1e-4, atol=1e-4)
    net.train()(torch.from_numpy(x))  # training mode normalises the same axis
    assert tuple(net[1].running_mean.shape) == (3,)


# (sngan's spectral norm is checked against numpy in test_torch_keras_parity.py.)
@pytest.mark.parametrize("family", ["dcgan", "combined", "wgangp", "lsgan"])
def test_card_networks_match_the_channels_last_reference(family):
    recipe = next(c for c in builtin_cards() if c.family == family).recipe()
    rng = np.random.default_rng(1)
    for prefix in ("generator", "discriminator"):
        spec = getattr(recipe, prefix)
        weights = _random_weights(spec, prefix, rng)
        weights = {k: v * 0.2 if k.endswith("weight") else v for k, v in weights.items()}
        net = build_network(spec)
        load_canonical_weights(net, spec, prefix, weights)
        x = rng.standard_normal((2, *spec.input_shape)).astype(np.float32)
        expected = _np_forward(spec, weights, prefix, x.astype(np.float64))
        np.testing.assert_allclose(_torch_forward(net, x), expected, rtol=1e-4, atol=1e-4)


# -- loading canonical weights -----------------------------------------------------------------


def _dcgan():
    return next(c for c in builtin_cards() if c.family == "dcgan").recipe()


def test_load_generator_rejects_missing_extra_and_misshaped_tensors():
    recipe = _dcgan()
    backend = create_backend(None)
    good = canonical_weights(build_network(recipe.generator), "generator")
    backend.load_generator(recipe, good)  # fine, and ignores discriminator.* and torch extras

    missing = dict(good)
    del missing["generator.4.weight"]
    with pytest.raises(WeightsFileError, match=r"generator\.4\.weight"):
        backend.load_generator(recipe, missing)

    extra = {**good, "generator.2.weight": np.zeros(3, np.float32)}
    with pytest.raises(WeightsFileError, match=r"generator\.2\.weight"):
        backend.load_generator(recipe, extra)

    wrong = {**good, "generator.1.running_mean": np.zeros(7, np.float32)}
    with pytest.raises(WeightsFileError, match=r"generator\.1\.running_mean.*\(7,\)"):
        backend.load_generator(recipe, wrong)

    good_d = canonical_weights(build_network(recipe.discriminator), "discriminator")
    del good_d["discriminator.7.bias"]
    with pytest.raises(WeightsFileError, match=r"discriminator\.7\.bias"):
        backend.load_discriminator(recipe, good_d)


def test_loaded_discriminator_returns_one_logit_per_image():
    recipe = _dcgan()
    weights = canonical_weights(build_network(recipe.discriminator), "discriminator")
    d = create_backend(None).load_discriminator(recipe, {**weights, "generator.0.weight": 0})
    logits = d.logits(np.zeros((5, 28, 28, 1), np.float32))
    assert logits.shape == (5,) and logits.dtype == np.float32
