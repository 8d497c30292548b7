"""Model cards: the built-in cards, their parameter counts, and validation errors."""

from __future__ import annotations

import math

import pytest

from ganzoo.architecture import LAYER_KINDS, LayerSpec, NetSpec
from ganzoo.cards import builtin_cards, load_card, parse_card
from ganzoo.errors import CardError


def dense(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def conv(k: int, c_in: int, c_out: int, bias: bool = True) -> int:
    return k * k * c_in * c_out + (c_out if bias else 0)


# The seeds' parameter counts: seed000 prints its Keras summaries; the other documents print
# their layers, so their counts are the same arithmetic done by hand here, not read off a card.
MLP_SEED002 = {
    "generator_trainable": dense(100, 256) + dense(256, 512) + dense(512, 1024)
    + dense(1024, 784) + 2 * (256 + 512 + 1024),
    "generator_non_trainable": 2 * (256 + 512 + 1024),
    "discriminator_trainable": dense(784, 512) + dense(512, 256) + dense(256, 1),
    "discriminator_non_trainable": 0,
}
SEED_COUNTS = {
    ("dcgan", "seed000"): {
        "generator_trainable": 4_404_160,
        "generator_non_trainable": 50_560,
        "discriminator_trainable": 212_865,
        "discriminator_non_trainable": 0,
    },
    ("combined", "seed001"): {
        "generator_trainable": dense(100, 512) + dense(512, 3136) + conv(5, 64, 32)
        + conv(5, 32, 1) + 2 * (512 + 3136 + 32),
        "generator_non_trainable": 2 * (512 + 3136 + 32),
        "discriminator_trainable": conv(5, 1, 32) + conv(5, 32, 64) + dense(7 * 7 * 64, 1),
        "discriminator_non_trainable": 0,
    },
    ("mlp", "seed002"): MLP_SEED002,
    ("mlp", "seed003"): MLP_SEED002,  # same networks, other data and optimiser
    ("mlp", "seed004"): {
        "generator_trainable": dense(100, 32) + dense(32, 64) + dense(64, 128)
        + dense(128, 784),
        "generator_non_trainable": 0,
        "discriminator_trainable": dense(784, 128) + dense(128, 64) + dense(64, 32)
        + dense(32, 1),
        "discriminator_non_trainable": 0,
    },
}
SEED_FAMILIES = {"mlp", "dcgan", "combined"}
# The families of issue 13, from their papers' networks as the cards' provenance describes
# them (WGAN-GP's reference MNIST model at DIM = 32; LSGAN and SNGAN scaled to 28x28).
WGANGP = {
    "generator_trainable": dense(128, 2048) + conv(4, 128, 64) + conv(5, 64, 32)
    + conv(5, 32, 1),
    "generator_non_trainable": 0,
    "discriminator_trainable": conv(5, 1, 32) + conv(5, 32, 64) + conv(5, 64, 128)
    + dense(4 * 4 * 128, 1),
    "discriminator_non_trainable": 0,
}
LSGAN = {
    "generator_trainable": dense(100, 7 * 7 * 128, bias=False) + conv(5, 128, 64, bias=False)
    + conv(5, 64, 1) + 2 * (7 * 7 * 128 + 64),
    "generator_non_trainable": 2 * (7 * 7 * 128 + 64),
    "discriminator_trainable": conv(5, 1, 64) + conv(5, 64, 128, bias=False) + 2 * 128
    + dense(7 * 7 * 128, 1),
    "discriminator_non_trainable": 2 * 128,
}
SNGAN = {
    "generator_trainable": dense(128, 7 * 7 * 128, bias=False) + conv(4, 128, 64, bias=False)
    + conv(4, 64, 32, bias=False) + conv(3, 32, 1) + 2 * (7 * 7 * 128 + 64 + 32),
    "generator_non_trainable": 2 * (7 * 7 * 128 + 64 + 32),
    "discriminator_trainable": conv(3, 1, 32) + conv(4, 32, 32) + conv(3, 32, 64)
    + conv(4, 64, 64) + conv(3, 64, 128) + dense(7 * 7 * 128, 1),
    # one spectral-norm vector u per normalised layer, one entry per output unit
    "discriminator_non_trainable": 32 + 32 + 64 + 64 + 128 + 1,
}
SEED_COUNTS.update({(family, recipe): counts
                    for family, counts in (("wgangp", WGANGP), ("lsgan", LSGAN),
                                           ("sngan", SNGAN))
                    for recipe in ("fashion", "mnist")})


@pytest.fixture(scope="module")
def cards():
    return {card.family: card for card in builtin_cards()}


def test_builtin_cards_load(cards):
    counted = {family for family, _ in SEED_COUNTS}
    assert counted <= set(cards)
    assert {(f, r) for f, c in cards.items() for r in c.recipes if f in counted} == set(
        SEED_COUNTS)
    for family, card in cards.items():
        assert card.source == f"registry/{family}.toml"
        assert card.default_recipe in card.recipes
        assert card.recipe() is card.recipes[card.default_recipe]
        assert card.provenance["source"]
        if family in SEED_FAMILIES:
            assert card.provenance["seed_documents"]
        else:  # a paper's family says what it completed and where it departs
            assert card.provenance["inferred"] and card.provenance["departures"]


@pytest.mark.parametrize(("family", "recipe"), sorted(SEED_COUNTS))
def test_parameter_counts_match_the_seeds(cards, family, recipe):
    r = cards[family].recipes[recipe]
    assert r.expected_params == SEED_COUNTS[family, recipe]
    assert r.parameter_counts() == SEED_COUNTS[family, recipe]


@pytest.mark.parametrize(("family", "recipe"), sorted(SEED_COUNTS))
def test_canonical_tensors_hold_every_parameter(cards, family, recipe):
    r = cards[family].recipes[recipe]
    for prefix, net in (("generator", r.generator), ("discriminator", r.discriminator)):
        shapes = net.tensor_shapes(prefix)
        assert all(name.startswith(f"{prefix}.") for name in shapes)
        assert sum(math.prod(s) for s in shapes.values()) == sum(net.parameter_counts())


def test_dcgan_layer_summary(cards):
    r = cards["dcgan"].recipes["seed000"]
    g = [(row.kind, row.output_shape, row.trainable, row.non_trainable)
         for row in r.generator.summary()]
    assert g == [  # the seed's Keras summary, layer by layer
        ("dense", (25088,), 2_508_800, 0),
        ("batch_norm", (25088,), 50_176, 50_176),
        ("leaky_relu", (25088,), 0, 0),
        ("reshape", (7, 7, 512), 0, 0),
        ("conv_transpose", (7, 7, 128), 1_638_400, 0),
        ("batch_norm", (7, 7, 128), 256, 256),
        ("leaky_relu", (7, 7, 128), 0, 0),
        ("conv_transpose", (14, 14, 64), 204_800, 0),
        ("batch_norm", (14, 14, 64), 128, 128),
        ("leaky_relu", (14, 14, 64), 0, 0),
        ("conv_transpose", (28, 28, 1), 1_600, 0),
        ("tanh", (28, 28, 1), 0, 0),
    ]
    d = [(row.kind, row.output_shape, row.trainable) for row in r.discriminator.summary()]
    assert d == [
        ("conv", (14, 14, 64), 1_664),
        ("leaky_relu", (14, 14, 64), 0),
        ("dropout", (14, 14, 64), 0),
        ("conv", (7, 7, 128), 204_928),
        ("leaky_relu", (7, 7, 128), 0),
        ("dropout", (7, 7, 128), 0),
        ("flatten", (6272,), 0),
        ("dense", (1,), 6_273),
    ]
    assert [row.index for row in r.generator.summary()] == list(range(12))
    assert r.generator.output_shape == r.image_shape == (28, 28, 1)


def test_dcgan_canonical_tensor_names_and_shapes(cards):
    r = cards["dcgan"].recipes["seed000"]
    g = r.generator.tensor_shapes("generator")
    assert list(g) == [
        "generator.0.weight",
        *(f"generator.1.{t}" for t in ("weight", "bias", "running_mean", "running_var")),
        "generator.4.weight",
        *(f"generator.5.{t}" for t in ("weight", "bias", "running_mean", "running_var")),
        "generator.7.weight",
        *(f"generator.8.{t}" for t in ("weight", "bias", "running_mean", "running_var")),
        "generator.10.weight",
    ]  # bias = false: no bias tensors; activations and reshape hold none
    assert g["generator.0.weight"] == (25088, 100)  # dense: (out, in)
    assert g["generator.1.running_var"] == (25088,)
    assert g["generator.4.weight"] == (512, 128, 5, 5)  # conv_transpose: (in, out, k, k)
    assert g["generator.10.weight"] == (64, 1, 5, 5)
    d = r.discriminator.tensor_shapes("discriminator")
    assert d == {
        "discriminator.0.weight": (64, 1, 5, 5),  # conv: (out, in, k, k)
        "discriminator.0.bias": (64,),
        "discriminator.3.weight": (128, 64, 5, 5),
        "discriminator.3.bias": (128,),
        "discriminator.7.weight": (1, 6272),
        "discriminator.7.bias": (1,),
    }


def test_extends_inherits_every_key_it_does_not_set(cards):
    mlp = cards["mlp"]
    base, child = mlp.recipes["seed002"], mlp.recipes["seed003"]
    assert child.generator == base.generator and child.discriminator == base.discriminator
    assert (child.latent_dim, child.noise, child.batch_size, child.step, child.d_batches) == (
        base.latent_dim, base.noise, base.batch_size, base.step, base.d_batches)
    assert child.expected_params == base.expected_params
    assert (child.dataset, child.epochs) == ("mnist", 5)
    assert child.optimizers["generator"].name == "sgd"
    assert child.optimizers["discriminator"].settings == {"lr": 0.01, "momentum": 0.0}


def test_layer_defaults():
    def options(**raw):
        return LayerSpec.parse(raw, "t").options

    assert options(type="batch_norm") == {"momentum": 0.99, "epsilon": 1e-3}  # Keras'
    assert options(type="leaky_relu") == {"slope": 0.3}  # Keras' default negative slope
    assert options(type="conv", filters=8, kernel=3) == {
        "filters": 8, "kernel": 3, "stride": 1, "padding": "same", "bias": True,
        "spectral_norm": False}
    assert options(type="dense", units=4) == {"units": 4, "bias": True, "spectral_norm": False}
    assert options(type="layer_norm") == {"epsilon": 1e-3}  # Keras' LayerNormalization
    assert set(LAYER_KINDS) == {"dense", "conv", "conv_transpose", "batch_norm", "layer_norm",
                                "leaky_relu", "relu", "tanh", "sigmoid", "dropout", "reshape",
                                "flatten"}


@pytest.mark.parametrize(("layer", "shape"), [
    ({"type": "conv", "filters": 4, "kernel": 5, "stride": 2}, (14, 14, 4)),  # ceil(27/2)
    ({"type": "conv", "filters": 4, "kernel": 5, "stride": 2, "padding": "valid"},
     (12, 12, 4)),
    ({"type": "conv_transpose", "filters": 4, "kernel": 5, "stride": 2}, (54, 54, 4)),
    ({"type": "conv_transpose", "filters": 4, "kernel": 5, "stride": 2, "padding": "valid"},
     (57, 57, 4)),
    ({"type": "flatten"}, (27 * 27 * 3,)),
    ({"type": "dense", "units": 7}, (27, 27, 7)),  # dense acts on the last (channel) axis
])
def test_output_shapes_follow_tensorflow_rules(layer, shape):
    net = NetSpec((27, 27, 3), (LayerSpec.parse(layer, "t"),))
    assert net.output_shape == shape


# A minimal valid card; each case below breaks one thing in it.
CARD = """\
family = "tiny"
title = "Tiny"
description = "A card for tests."
default_recipe = "r1"

[provenance]
source = "tests"

[recipes.r1]
description = "base"
seed_document = "none"
dataset = "fashion"
latent_dim = 8
noise = "normal"
batch_size = 4
epochs = 1
loss = "bce_logits"
step = "alternating"
optimizer.generator = { name = "adam" }
optimizer.discriminator = { name = "sgd", lr = 0.1 }

[recipes.r1.expected_params]
generator_trainable = 7056
generator_non_trainable = 0
discriminator_trainable = 785
discriminator_non_trainable = 0

[recipes.r1.generator]
layers = [
    { type = "dense", units = 784 },
    { type = "tanh" },
    { type = "reshape", shape = [28, 28, 1] },
]

[recipes.r1.discriminator]
layers = [
    { type = "flatten" },
    { type = "dense", units = 1 },
]

[recipes.r2]
extends = "r1"
description = "r1 on mnist"
dataset = "mnist"
"""


RESULT = """
[[results]]
model = "tiny-torch"
recipe = "r1"
budget = "1 epoch of the bundled split"
train_command = "ganzoo train tiny-torch --split bundled-test --epochs 1"
eval_command = "ganzoo eval tiny-torch@1 -n 2000"
n = 2000
fid = 120.5
fid_floor = 3.25
"""


def test_results_are_read_with_their_commands():
    card = parse_card(CARD + RESULT, "tiny.toml")
    assert len(card.results) == 1
    assert card.results[0]["fid"] == 120.5 and card.results[0]["model"] == "tiny-torch"
    assert parse_card(CARD, "tiny.toml").results == ()


def broken(old: str, new: str) -> str:
    assert CARD.count(old) == 1, old
    return CARD.replace(old, new)


def test_the_test_card_is_valid():
    card = parse_card(CARD, "tiny.toml")
    assert card.recipes["r2"].dataset == "mnist"
    assert card.recipes["r2"].generator == card.recipes["r1"].generator
    assert card.recipes["r1"].optimizers["discriminator"].settings == {"lr": 0.1,
                                                                       "momentum": 0.0}
    assert card.recipes["r1"].optimizers["generator"].settings["epsilon"] == 1e-7


BAD_CARDS = {
    "unknown top-level key": (
        broken('title = "Tiny"', 'title = "Tiny"\ncolour = "red"'),
        ["unknown key 'colour'"]),
    "missing top-level key": (broken('title = "Tiny"\n', ""), ["missing required key 'title'"]),
    "missing recipe field": (
        broken("latent_dim = 8\n", ""), ["recipes.r1", "missing required key 'latent_dim'"]),
    "unknown recipe key": (
        broken("epochs = 1\n", "epochs = 1\nlearning_rate = 1\n"),
        ["recipes.r1", "unknown key 'learning_rate'"]),
    "unknown layer key": (
        broken('{ type = "dense", units = 784 }',
               '{ type = "dense", units = 784, activation = "relu" }'),
        ["recipes.r1.generator.layers[0]", "unknown key 'activation' for layer type 'dense'"]),
    "unknown layer type": (
        broken('{ type = "tanh" }', '{ type = "gelu" }'),
        ["recipes.r1.generator.layers[1]", "unknown layer type 'gelu'"]),
    "layer without type": (
        broken('{ type = "tanh" }', "{ units = 3 }"),
        ["recipes.r1.generator.layers[1]", "no 'type'"]),
    "missing layer option": (
        broken('{ type = "dense", units = 1 }', '{ type = "dense" }'),
        ["recipes.r1.discriminator.layers[1]", "needs key 'units'"]),
    "bad padding": (
        broken('{ type = "tanh" }', '{ type = "conv", filters = 1, kernel = 3, padding = "full" }'),
        ["recipes.r1.generator.layers[1]", "padding"]),
    "wrong expected count": (
        broken("generator_trainable = 7056", "generator_trainable = 7000"),
        ["recipes.r1.expected_params.generator_trainable", "7,000", "7,056"]),
    "unknown expected key": (
        broken("discriminator_non_trainable = 0", "discriminator_non_trainable = 0\ntotal = 1"),
        ["recipes.r1.expected_params", "unknown key 'total'"]),
    "bad extends": (
        broken('extends = "r1"', 'extends = "r9"'), ["recipes.r2.extends", "'r9'"]),
    "extends cycle": (
        broken('description = "base"', 'description = "base"\nextends = "r2"'),
        ["extends", "cycle"]),
    "output shape mismatch": (
        broken("shape = [28, 28, 1]", "shape = [14, 14, 4]"),
        ["recipes.r1.generator", "(14, 14, 4)", "(28, 28, 1)"]),
    "discriminator without one logit": (
        broken('{ type = "dense", units = 1 }', '{ type = "dense", units = 2 }'),
        ["recipes.r1.discriminator", "one logit"]),
    "reshape changes size": (
        broken("shape = [28, 28, 1]", "shape = [28, 28, 2]"),
        ["recipes.r1.generator", "reshape"]),
    "bad choice": (broken('noise = "normal"', 'noise = "gaussian"'),
                   ["recipes.r1.noise", "'gaussian'"]),
    "bad optimizer option": (
        broken('{ name = "sgd", lr = 0.1 }', '{ name = "sgd", beta1 = 0.5 }'),
        ["recipes.r1.optimizer.discriminator", "unknown key 'beta1'"]),
    "not a positive integer": (broken("batch_size = 4", "batch_size = 0"),
                               ["recipes.r1.batch_size", "positive integer"]),
    "unknown default recipe": (broken('default_recipe = "r1"', 'default_recipe = "r3"'),
                               ["default_recipe 'r3'"]),
    "invalid TOML": (broken('family = "tiny"', 'family = "tiny'), ["not valid TOML"]),
    "units not an integer": (
        broken('{ type = "dense", units = 1 }', '{ type = "dense", units = "1" }'),
        ["recipes.r1.discriminator.layers[1].units", "positive integer"]),
    "negative units": (
        broken('{ type = "dense", units = 1 }', '{ type = "dense", units = -1 }'),
        ["recipes.r1.discriminator.layers[1].units", "positive integer"]),
    "reshape shape not a list": (
        broken("shape = [28, 28, 1]", "shape = 784"),
        ["recipes.r1.generator.layers[2].shape", "list of positive integers"]),
    "learning rate not a number": (
        broken('{ name = "sgd", lr = 0.1 }', '{ name = "sgd", lr = "fast" }'),
        ["recipes.r1.optimizer.discriminator.lr", "non-negative number"]),
    # extends merges a recipe's keys one level deep: a child that sets optimizer.generator
    # replaces the whole optimizer table, so it must set both parts (as mlp's seed003 does).
    "result for another family": (CARD + RESULT.replace('"tiny-torch"', '"dcgan-torch"'),
                                  ["results[0].model", "not a tiny model"]),
    "result for an unknown recipe": (CARD + RESULT.replace('recipe = "r1"', 'recipe = "r9"'),
                                     ["results[0].recipe", "'r9'"]),
    "result without its command": (
        CARD + RESULT.replace('eval_command = "ganzoo eval tiny-torch@1 -n 2000"\n', ""),
        ["results[0]", "missing required key 'eval_command'"]),
    "result FID not a number": (CARD + RESULT.replace("fid = 120.5", 'fid = "good"'),
                                ["results[0].fid", "non-negative number"]),
    "unknown result key": (CARD + RESULT.replace("n = 2000", "n = 2000\nis = 9.1"),
                           ["results[0]", "unknown key 'is'"]),
    "extends is shallow": (
        broken('dataset = "mnist"', 'dataset = "mnist"\noptimizer.generator = { name = "sgd" }'),
        ["recipes.r2.optimizer", "missing required key 'discriminator'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CARDS))
def test_validation_errors_name_the_file_and_key(tmp_path, case):
    text, fragments = BAD_CARDS[case]
    path = tmp_path / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CardError) as info:
        load_card(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message
