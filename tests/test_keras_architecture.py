"""Keras backend: networks built from the cards, summaries, canonical weights, inference."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("tensorflow") is None:  # not importorskip: torch must load first
    pytest.skip("the keras extra is not installed", allow_module_level=True)

from ganzoo.cards import builtin_cards
from ganzoo.errors import WeightsFileError
from ganzoo_keras.backend import KerasBackend, create_backend
from ganzoo_keras.builder import build_network
from ganzoo_keras.canonical import from_canonical, to_canonical
from ganzoo_keras.runtime import keras

pytestmark = pytest.mark.keras

RECIPES = [(card, recipe) for card in builtin_cards() for recipe in card.recipes.values()]
IDS = [f"{card.family}-{recipe.name}" for card, recipe in RECIPES]


@pytest.mark.parametrize(("card", "recipe"), RECIPES, ids=IDS)
def test_summary_counts_match_the_card(card, recipe):
    rows = create_backend(None).summary(recipe)
    counts = {}
    for part in ("generator", "discriminator"):
        mine = [r for r in rows if r.network == part]
        # A conditional network adds its label table (a row named <part>.embedding).
        layers = [r for r in mine if r.name != f"{part}.embedding"]
        assert len(mine) - len(layers) == (getattr(recipe, part).label is not None)
        assert len(layers) == len(getattr(recipe, part).layers)
        counts[f"{part}_trainable"] = sum(r.trainable for r in mine)
        counts[f"{part}_non_trainable"] = sum(r.non_trainable for r in mine)
        # Output shapes agree with the card's framework-free arithmetic.
        expected = [(None, *row.output_shape) for row in getattr(recipe, part).summary()]
        assert [r.output_shape for r in layers] == expected
    assert counts == recipe.expected_params


def _summary_text(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    return "\n".join(lines)


def test_dcgan_keras_summary_prints_the_tutorials_numbers():
    recipe = {c.family: c for c in builtin_cards()}["dcgan"].recipe()
    g = _summary_text(build_network(recipe.generator, "generator"))
    d = _summary_text(build_network(recipe.discriminator, "discriminator"))
    assert "4,454,720" in g and "4,404,160" in g and "50,560" in g
    assert "212,865" in d


@pytest.mark.parametrize(("card", "recipe"), RECIPES, ids=IDS)
def test_canonical_round_trip_gives_identical_outputs(card, recipe):
    rng = np.random.default_rng(0)
    for part in ("generator", "discriminator"):
        net = getattr(recipe, part)
        keras.utils.set_random_seed(1)
        a = build_network(net, part)
        weights = to_canonical(a, part)
        assert {k: v.shape for k, v in weights.items()} == net.tensor_shapes(part)
        keras.utils.set_random_seed(2)
        b = build_network(net, part)
        from_canonical(b, part, weights)
        x = rng.standard_normal((4, *net.input_shape)).astype(np.float32)
        if net.label is not None:  # a conditional network: (x, labels)
            x = [x, np.arange(4, dtype=np.int32) % net.label.classes]
        np.testing.assert_array_equal(a(x, training=False).numpy(), b(x, training=False).numpy())


def test_canonical_layouts_are_torch_native():
    recipe = {c.family: c for c in builtin_cards()}["dcgan"].recipe()
    g = build_network(recipe.generator, "generator")
    d = build_network(recipe.discriminator, "discriminator")
    gw, dw = to_canonical(g, "generator"), to_canonical(d, "discriminator")
    dense = g.layers[0].kernel.numpy()  # (in, out)
    np.testing.assert_array_equal(gw["generator.0.weight"], dense.T)
    convt = g.layers[4].kernel.numpy()  # (kh, kw, out, in)
    assert gw["generator.4.weight"].shape == (512, 128, 5, 5)  # (in, out, kh, kw)
    np.testing.assert_array_equal(gw["generator.4.weight"][3, 7], convt[:, :, 7, 3])
    conv = d.layers[0].kernel.numpy()  # (kh, kw, in, out)
    assert dw["discriminator.0.weight"].shape == (64, 1, 5, 5)  # (out, in, kh, kw)
    np.testing.assert_array_equal(dw["discriminator.0.weight"][9, 0], conv[:, :, 0, 9])
    assert {"generator.1.weight", "generator.1.bias", "generator.1.running_mean",
            "generator.1.running_var"} <= set(gw)


def test_from_canonical_names_the_bad_tensor():
    recipe = {c.family: c for c in builtin_cards()}["mlp"].recipe("seed004")
    model = build_network(recipe.discriminator, "discriminator")
    weights = to_canonical(model, "discriminator")
    before = model.layers[1].kernel.numpy().copy()

    bad = dict(weights, **{"discriminator.1.weight": np.zeros((3, 3), np.float32)})
    with pytest.raises(WeightsFileError, match=r"discriminator\.1\.weight.*\(128, 784\)"):
        from_canonical(model, "discriminator", bad)
    np.testing.assert_array_equal(model.layers[1].kernel.numpy(), before)  # left untouched

    missing = {k: v for k, v in weights.items() if k != "discriminator.10.bias"}
    with pytest.raises(WeightsFileError, match=r"discriminator\.10\.bias.*missing"):
        from_canonical(model, "discriminator", missing)

    extra = dict(weights, **{"discriminator.2.weight": np.zeros(1, np.float32)})
    with pytest.raises(WeightsFileError, match=r"discriminator\.2\.weight"):
        from_canonical(model, "discriminator", extra)


def test_loaded_generator_and_discriminator_evaluate_in_inference_mode():
    recipe = {c.family: c for c in builtin_cards()}["combined"].recipe()
    keras.utils.set_random_seed(3)
    g = build_network(recipe.generator, "generator")
    d = build_network(recipe.discriminator, "discriminator")
    weights = {**to_canonical(g, "generator"), **to_canonical(d, "discriminator")}
    backend = create_backend(None)
    gen = backend.load_generator(recipe, weights)
    disc = backend.load_discriminator(recipe, weights)
    noise = np.random.default_rng(0).uniform(-1, 1, (5, recipe.latent_dim)).astype(np.float32)
    images = gen.generate(noise)
    assert gen.latent_dim == 100
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_array_equal(images, g(noise, training=False).numpy())
    logits = disc.logits(images)
    assert logits.shape == (5,) and logits.dtype == np.float32
    np.testing.assert_array_equal(logits, d(images, training=False).numpy().reshape(-1))
    with pytest.raises(ValueError, match=r"\(N, 100\)"):
        gen.generate(noise[:, :10])


def test_the_plugin_registers_a_working_backend():
    from ganzoo.catalog import Catalog

    catalog = Catalog.load(plugins=["keras"])
    spec = catalog.model("dcgan-keras")
    backend = spec.load_backend()
    assert isinstance(backend, KerasBackend)
    assert {m.model_id for m in catalog.list_models("*-keras")} >= {
        "mlp-keras", "dcgan-keras", "combined-keras", "wgangp-keras", "lsgan-keras",
        "sngan-keras"}
