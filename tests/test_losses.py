"""The named losses and penalties in both backends, against hand computations and each other.

- Loss values and their gradients w.r.t. the discriminator's outputs, on a fixed example,
  against numpy formulas written from the papers (ganzoo.losses documents them).
- Penalties (WGAN-GP, R1) on a two-layer critic D(x) = v . tanh(W x): the value from the
  closed-form input gradient, the gradient w.r.t. W and v by float64 central differences.
- Cross-backend: one torch and one Keras trainer with the same canonical weights, batches,
  noise and interpolation weights take the same steps for recipes using each new loss,
  penalty and schedule.
- The schedule: ``d_steps_per_g = k`` makes k discriminator updates per generator update.
- A plugin loss and penalty (registered through the hooks) used by both built-in trainers.

Tolerances: loss values and gradients are float32 on values of order 1 (1e-6). Penalties go
through a double backward in float32 (2e-5 against float64 differences with error ~1e-9).
Cross-backend steps use SGD (lr 0.1), so updated weights differ by lr times float32 gradient
noise; 5e-5 absolute holds that with margin, while a wrong sign, term or schedule moves values
by 1e-2 or more.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ganzoo.cards import parse_card
from ganzoo.catalog import Catalog
from ganzoo.hookspecs import hookimpl
from ganzoo.protocols import TrainConfig

torch = pytest.importorskip("torch")  # before tensorflow, always

HAVE_TF = importlib.util.find_spec("tensorflow") is not None
BACKENDS = ["torch", *(["keras"] if HAVE_TF else [])]
LOSSES = ["bce_logits", "least_squares", "hinge", "wasserstein"]
BATCH = 4


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    threads = torch.get_num_threads()  # the torch trainer sets the process-wide count
    yield
    torch.set_num_threads(threads)


def tf():
    from ganzoo.frameworks import import_tensorflow

    return import_tensorflow()


# -- losses against the formulas ------------------------------------------------------------

# Chosen so that every hinge term is active for some samples and inactive for others.
OUT = np.array([[1.5], [-0.5], [0.2], [2.0]], np.float32)
SIGMOID = 1 / (1 + np.exp(-OUT.astype(np.float64)))
N = len(OUT)
o = OUT.astype(np.float64)


def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


# loss -> part -> (value, d value / d out), by hand.
HAND = {
    "bce_logits": {
        "real": (softplus(-o).mean(), (SIGMOID - 1) / N),
        "fake": (softplus(o).mean(), SIGMOID / N),
        "generator": (softplus(-o).mean(), (SIGMOID - 1) / N),
    },
    "least_squares": {  # Mao et al. with a=0, b=c=1 and the paper's 1/2
        "real": (0.5 * ((o - 1) ** 2).mean(), (o - 1) / N),
        "fake": (0.5 * (o**2).mean(), o / N),
        "generator": (0.5 * ((o - 1) ** 2).mean(), (o - 1) / N),
    },
    "hinge": {
        "real": (np.maximum(1 - o, 0).mean(), -(1 - o > 0).astype(float) / N),
        "fake": (np.maximum(1 + o, 0).mean(), (1 + o > 0) / N),
        "generator": (-o.mean(), -np.ones_like(o) / N),
    },
    "wasserstein": {
        "real": (-o.mean(), -np.ones_like(o) / N),
        "fake": (o.mean(), np.ones_like(o) / N),
        "generator": (-o.mean(), -np.ones_like(o) / N),
    },
}


def backend_loss(backend: str, name: str, part: str, out: np.ndarray):
    """(value, gradient w.r.t. ``out``) of a backend's implementation of ``name``."""
    if backend == "torch":
        from ganzoo_torch.losses import LOSSES as IMPLS

        x = torch.tensor(out, requires_grad=True)
        value = getattr(IMPLS[name], part)(x)
        value.backward()
        return float(value.detach()), x.grad.numpy()
    from ganzoo_keras.losses import LOSSES as IMPLS

    x = tf().Variable(out)
    with tf().GradientTape() as tape:
        value = getattr(IMPLS[name], part)(x)
    return float(value), tape.gradient(value, x).numpy()


@pytest.mark.parametrize("part", ["real", "fake", "generator"])
@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_values_and_gradients_match_the_formulas(backend, name, part):
    value, grad = backend_loss(backend, name, part, OUT)
    want_value, want_grad = HAND[name][part]
    assert value == pytest.approx(want_value, abs=1e-6)
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=1e-6)


# -- penalties against the closed form -------------------------------------------------------

D_IN, HIDDEN = 3, 2
rng = np.random.default_rng(3)
W = rng.normal(0, 0.8, (HIDDEN, D_IN))
V = rng.normal(0, 0.8, (HIDDEN,))
REAL = rng.uniform(-1, 1, (BATCH, D_IN))
FAKE = rng.uniform(-1, 1, (BATCH, D_IN))
EPS = np.array([0.1, 0.5, 0.9, 0.3])


def input_gradients(w, v, x):
    """grad_x D(x) per row for D(x) = v . tanh(W x)."""
    return (v * (1 - np.tanh(x @ w.T) ** 2)) @ w


def hand_penalty(name: str, w, v, weight: float) -> float:
    if name == "gradient_penalty":
        xhat = EPS[:, None] * REAL + (1 - EPS[:, None]) * FAKE
        norms = np.linalg.norm(input_gradients(w, v, xhat), axis=1)
        return weight * np.mean((norms - 1) ** 2)
    return weight / 2 * np.mean(np.sum(input_gradients(w, v, REAL) ** 2, axis=1))


def numeric(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


def backend_penalty(backend: str, name: str, weight: float):
    """(value, d/dW, d/dv) of a backend's penalty on the two-layer critic."""
    f32 = np.float32
    if backend == "torch":
        from ganzoo_torch.losses import PENALTIES

        net = torch.nn.Sequential(torch.nn.Linear(D_IN, HIDDEN, bias=False), torch.nn.Tanh(),
                                  torch.nn.Linear(HIDDEN, 1, bias=False))
        with torch.no_grad():
            net[0].weight.copy_(torch.tensor(W, dtype=torch.float32))
            net[2].weight.copy_(torch.tensor(V[None, :], dtype=torch.float32))
        value = PENALTIES[name](net, torch.tensor(REAL, dtype=torch.float32),
                                torch.tensor(FAKE, dtype=torch.float32), weight,
                                lambda n: torch.tensor(EPS[:n], dtype=torch.float32))
        gw, gv = torch.autograd.grad(value, [net[0].weight, net[2].weight])
        return float(value), gw.numpy(), gv.numpy()[0]
    from ganzoo_keras.losses import PENALTIES
    from ganzoo_keras.runtime import keras

    t = tf()
    net = keras.Sequential([keras.Input((D_IN,)), keras.layers.Dense(HIDDEN, use_bias=False),
                            keras.layers.Activation("tanh"),
                            keras.layers.Dense(1, use_bias=False)])
    net.set_weights([W.T.astype(f32), V[:, None].astype(f32)])
    with t.GradientTape() as tape:
        value = PENALTIES[name](lambda x: net(x, training=True), t.constant(REAL, t.float32),
                                t.constant(FAKE, t.float32), weight,
                                lambda n: t.constant(EPS[:n], t.float32))
    gw, gv = tape.gradient(value, net.trainable_variables)
    return float(value), gw.numpy().T, gv.numpy()[:, 0]


@pytest.mark.parametrize(("name", "weight"), [("gradient_penalty", 10.0), ("r1", 3.0)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_penalty_values_and_weight_gradients_match_the_hand_computation(backend, name, weight):
    value, gw, gv = backend_penalty(backend, name, weight)
    assert value == pytest.approx(hand_penalty(name, W, V, weight), rel=1e-5)
    np.testing.assert_allclose(gw, numeric(lambda w: hand_penalty(name, w, V, weight), W),
                               rtol=0, atol=2e-5 * weight)
    np.testing.assert_allclose(gv, numeric(lambda v: hand_penalty(name, W, v, weight), V),
                               rtol=0, atol=2e-5 * weight)


# -- cross-backend steps ---------------------------------------------------------------------

LATENT, IMAGE = 3, (2, 2, 1)
CARD = """
family = "losses"
title = "Loss tests"
description = "A tiny dense GAN (the golden-step networks) for every loss and penalty."
default_recipe = "r"

[provenance]
source = "tests"

[recipes.r]
description = "d"
seed_document = "none"
dataset = "random"
latent_dim = 3
image_shape = [2, 2, 1]
noise = "normal"
batch_size = 4
epochs = 1
loss = "{loss}"
step = "{step}"
d_batches = "{d_batches}"
optimizer.generator = {{ name = "sgd", lr = 0.1 }}
optimizer.discriminator = {{ name = "sgd", lr = 0.1 }}
{extra}

[recipes.r.expected_params]
generator_trainable = 44
generator_non_trainable = 8
discriminator_trainable = {d_trainable}
discriminator_non_trainable = {d_frozen}

[recipes.r.generator]
layers = [
    {{ type = "dense", units = 4 }},
    {{ type = "batch_norm", momentum = 0.8 }},
    {{ type = "leaky_relu", slope = 0.2 }},
    {{ type = "dense", units = 4 }},
    {{ type = "tanh" }},
    {{ type = "reshape", shape = [2, 2, 1] }},
]

[recipes.r.discriminator]
layers = [
    {{ type = "flatten" }},
    {{ type = "dense", units = 3 }},
    {d_norm}
    {{ type = "leaky_relu", slope = 0.2 }},
    {{ type = "dense", units = 1 }},
]
"""


def recipe_for(loss: str, step: str, d_batches: str = "separate", extra: str = "",
               objectives=None, d_batch_norm: bool | None = None):
    """A tiny card with batch norm in G and (unless a gradient penalty rules it out) in D."""
    if d_batch_norm is None:
        d_batch_norm = "penalty" not in extra
    norm = '{ type = "batch_norm", momentum = 0.7, epsilon = 0.01 },' if d_batch_norm else ""
    text = CARD.format(loss=loss, step=step, d_batches=d_batches, extra=extra, d_norm=norm,
                       d_trainable=25 if d_batch_norm else 19, d_frozen=6 if d_batch_norm else 0)
    return parse_card(text, "losses.toml", objectives).recipe()


CASES = {  # id -> (loss, step, d_batches, extra card lines)
    "least_squares-alternating": ("least_squares", "alternating", "separate", ""),
    "least_squares-combined-concat": ("least_squares", "combined", "concat", ""),
    "hinge-simultaneous": ("hinge", "simultaneous", "separate", ""),
    "hinge-combined-separate-r1": ("hinge", "combined", "separate",
                                   'penalty = { name = "r1", weight = 2.0 }'),
    # (Small weights: with SGD at lr 0.1 a weight of 10 blows these tiny nets up.)
    "wasserstein-gp-ncritic": ("wasserstein", "alternating", "separate",
                               'penalty = { name = "gradient_penalty", weight = 0.5 }\n'
                               "d_steps_per_g = 2"),
    "wasserstein-gp-combined-concat": ("wasserstein", "combined", "concat",
                                       'penalty = { name = "gradient_penalty", weight = 1 }'),
    "least_squares-gp-simultaneous": ("least_squares", "simultaneous", "separate",
                                      'penalty = { name = "gradient_penalty", weight = 5 }'),
}


def fixed_eps() -> Iterator[np.ndarray]:
    """The interpolation weights, in the order penalties ask for them (same for both)."""
    gen = np.random.default_rng(11)
    while True:
        yield gen.uniform(0, 1, BATCH).astype(np.float32)


def run_steps(backend: str, recipe, weights, reals, noises):
    """Steps through the real trainer's step function, with given noise and eps."""
    from step_drivers import keras_step, torch_step

    eps = fixed_eps()
    trainer = make_trainer(backend, recipe, config(recipe, max_steps=1),
                           images(BATCH * recipe.d_steps_per_g))
    load_weights(backend, trainer, recipe, weights)
    if backend == "torch":
        from ganzoo_torch.losses import penalty_for
        from ganzoo_torch.steps import penalty_term

        if recipe.penalty:
            trainer.steps.penalty = penalty_term(
                penalty_for(recipe), trainer.discriminator, recipe.penalty.weight,
                lambda n: torch.from_numpy(next(eps)[:n]))
        step = torch_step
    else:
        from ganzoo_keras.losses import penalty_for
        from ganzoo_keras.steps import penalty_term

        if recipe.penalty:
            trainer.steps.penalty = penalty_term(
                penalty_for(recipe), trainer.discriminator, recipe.penalty.weight,
                lambda n: tf().constant(next(eps)[:n]))
        step = keras_step
    metrics = [step(trainer, real, noise) for real, noise in zip(reals, noises, strict=True)]
    return metrics, trainer.weights()


def load_weights(backend: str, trainer, recipe, weights) -> None:
    if backend == "torch":
        from ganzoo_torch.canonical import load_canonical_weights

        for part in ("generator", "discriminator"):
            load_canonical_weights(getattr(trainer, part), getattr(recipe, part), part, weights)
    else:
        from ganzoo_keras.canonical import from_canonical

        for part in ("generator", "discriminator"):
            from_canonical(getattr(trainer, part), part, weights)


def fixed_inputs(recipe, steps: int = 2):
    gen = np.random.default_rng(5)
    k = recipe.d_steps_per_g
    draws = 1 if recipe.step == "simultaneous" else k + 1
    reals = [gen.uniform(-1, 1, (BATCH * k, *IMAGE)).astype(np.float32) for _ in range(steps)]
    noises = [[gen.standard_normal((BATCH, LATENT)).astype(np.float32) for _ in range(draws)]
              for _ in range(steps)]
    return reals, noises


@pytest.mark.skipif(not HAVE_TF, reason="tensorflow is not installed")
@pytest.mark.parametrize("case", CASES)
def test_torch_and_keras_take_the_same_steps(case):
    from gan_reference import initial_weights

    recipe = recipe_for(*CASES[case])
    weights = initial_weights(recipe)
    reals, noises = fixed_inputs(recipe)
    torch_metrics, torch_weights = run_steps("torch", recipe, weights, reals, noises)
    keras_metrics, keras_weights = run_steps("keras", recipe, weights, reals, noises)
    for got, want in zip(keras_metrics, torch_metrics, strict=True):
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=5e-5), key
    moved = 0.0
    for key, want in torch_weights.items():
        np.testing.assert_allclose(keras_weights[key], want, rtol=0, atol=5e-5, err_msg=key)
        moved = max(moved, float(np.abs(want - weights[key]).max()))
    assert moved > 1e-3  # the steps did train


@pytest.mark.parametrize("backend", BACKENDS)
def test_d_real_and_d_fake_are_probabilities_only_for_sigmoid_losses(backend):
    """bce_logits: mean sigmoid(D(x)); hinge (a "score" loss): mean raw D(x). D(x) of the
    step's first (training-mode) forward comes from the numpy reference forward."""
    from gan_reference import forward, initial_weights

    for loss in ("bce_logits", "hinge"):
        recipe = recipe_for(loss, "alternating")
        weights = initial_weights(recipe)
        reals, noises = fixed_inputs(recipe, steps=1)
        got = run_steps(backend, recipe, weights, reals, noises)[0][0]
        logits, _ = forward(recipe, "discriminator", weights, reals[0].astype(np.float64),
                            train=True)
        want = (np.mean(1 / (1 + np.exp(-logits))) if loss == "bce_logits"
                else np.mean(logits))
        assert got["d_real"] == pytest.approx(want, abs=1e-5), loss


# -- the schedule in the trainers ------------------------------------------------------------

def config(recipe, **kw) -> TrainConfig:
    return TrainConfig(model_id="t", recipe=recipe.name, dataset="random", batch_size=BATCH,
                       seed=0, device="cpu", epochs=1, extra={"torch_threads": 1}, **kw)


def images(count: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, 2, 2, 1), dtype=np.uint8)


def count_updates(backend: str, trainer) -> dict[str, int]:
    """A live count of the updates each optimiser makes from now on."""
    counts = {"generator": 0, "discriminator": 0}
    for part, optimizer in trainer.optimizers.items():
        if backend == "torch":
            def hook(opt, args, kwargs, part=part):
                counts[part] += 1

            optimizer.register_step_post_hook(hook)
        else:
            counts[part] = -int(optimizer.iterations)  # read again after the steps
    return counts


def updates_made(backend: str, trainer, counts: dict[str, int]) -> tuple[int, int]:
    if backend == "keras":
        return tuple(counts[p] + int(trainer.optimizers[p].iterations)
                     for p in ("generator", "discriminator"))
    return counts["generator"], counts["discriminator"]


def make_trainer(backend: str, recipe, config, imgs):
    if backend == "torch":
        from ganzoo_torch.trainer import TorchTrainer

        return TorchTrainer(recipe, config, imgs)
    from ganzoo_keras.trainer import KerasTrainer

    return KerasTrainer(recipe, config, imgs)


@pytest.mark.parametrize("step", ["alternating", "combined"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_d_steps_per_g_is_k_discriminator_updates_per_step(backend, step):
    recipe = recipe_for("wasserstein", step, "concat" if step == "combined" else "separate",
                        'penalty = { name = "gradient_penalty", weight = 10 }\n'
                        "d_steps_per_g = 3")
    trainer = make_trainer(backend, recipe, config(recipe), images(BATCH * 3 * 2 + 5))
    assert trainer.steps_per_epoch == 2  # 29 images: two steps of three batches of 4
    counts = count_updates(backend, trainer)
    metrics = trainer.run_steps(0, 0, 2)
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    assert updates_made(backend, trainer, counts) == (2, 6)
    capped = make_trainer(backend, recipe, config(recipe, max_steps=1), images(BATCH * 3 * 2))
    assert capped.steps_per_epoch == 1  # max_steps counts generator updates


# -- a plugin loss and penalty through both trainers -----------------------------------------

CALLS: dict[str, int] = {}


class TorchSoftplus:
    """The non-saturating loss written with softplus: bce_logits by another name."""

    def real(self, out):
        CALLS["torch"] = CALLS.get("torch", 0) + 1
        return torch.nn.functional.softplus(-out.float()).mean()

    def fake(self, out):
        return torch.nn.functional.softplus(out.float()).mean()

    def generator(self, out):
        return torch.nn.functional.softplus(-out.float()).mean()


class KerasSoftplus:
    def real(self, out):
        CALLS["keras"] = CALLS.get("keras", 0) + 1
        return tf().reduce_mean(tf().nn.softplus(-tf().cast(out, tf().float32)))

    def fake(self, out):
        return tf().reduce_mean(tf().nn.softplus(tf().cast(out, tf().float32)))

    def generator(self, out):
        return tf().reduce_mean(tf().nn.softplus(-tf().cast(out, tf().float32)))


class SoftplusPlugin:
    @hookimpl
    def register_losses(self, register):
        register("softplus_ns", summary="non-saturating GAN loss written with softplus",
                 discriminator="softplus(-D(x)) + softplus(D(G(z)))",
                 generator="softplus(-D(G(z)))", output="probability")
        register("softplus_ns", backend="torch", implementation=TorchSoftplus())
        register("softplus_ns", backend="keras", implementation=KerasSoftplus())


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_plugin_loss_trains_in_the_builtin_trainer(backend):
    catalog = Catalog.load(plugins=[], extra=[("softplus", SoftplusPlugin())])
    plugin_recipe = recipe_for("softplus_ns", "alternating", objectives=catalog.objectives)
    bce_recipe = recipe_for("bce_logits", "alternating")
    imgs = images(BATCH * 3)
    CALLS.clear()
    runs = {}
    for recipe in (plugin_recipe, bce_recipe):
        trainer = make_trainer(backend, recipe, config(recipe, max_steps=3), imgs)
        runs[recipe.loss] = (trainer.run_steps(0, 0, 3), trainer.weights())
    assert CALLS.get(backend, 0) > 0  # the plugin's code ran, not a built-in
    (got, got_w), (want, want_w) = runs["softplus_ns"], runs["bce_logits"]
    for key in want:  # the same loss written differently trains the same way
        assert got[key] == pytest.approx(want[key], abs=1e-5), key
    for key in want_w:
        np.testing.assert_allclose(got_w[key], want_w[key], rtol=0, atol=1e-5, err_msg=key)


class LogitPenaltyPlugin:
    @hookimpl
    def register_penalties(self, register):
        register("logit_l2", summary="keeps real logits small", formula="weight*mean(D(x)^2)",
                 uses_fake=False, batch_norm_ok=True, backend="torch",
                 implementation=self.torch_penalty)

    @staticmethod
    def torch_penalty(discriminator, real, fake, weight, uniform):
        return weight * discriminator(real).float().square().mean()


def test_a_plugin_penalty_joins_the_discriminator_loss():
    catalog = Catalog.load(plugins=[], extra=[("logit", LogitPenaltyPlugin())])
    from gan_reference import initial_weights

    recipe = recipe_for("hinge", "combined", "separate",
                        'penalty = { name = "logit_l2", weight = 3 }', catalog.objectives,
                        d_batch_norm=True)
    plain = recipe_for("hinge", "combined", "separate")
    weights = initial_weights(recipe)
    reals, noises = fixed_inputs(recipe, steps=1)
    with_penalty = run_steps("torch", recipe, weights, reals, noises)[0][0]
    without = run_steps("torch", plain, weights, reals, noises)[0][0]
    # Same first D forward, so the reported real-update loss grows by the penalty / 2.
    assert with_penalty["d_real"] == pytest.approx(without["d_real"], abs=1e-6)
    penalty = 3 * without["d_real"] ** 2  # a lower bound: mean(D^2) >= mean(D)^2
    assert with_penalty["d_loss"] - without["d_loss"] >= penalty / 2 - 1e-6


def documented_loss_plugin(tmp_path, monkeypatch):
    """The loss plugin of docs/plugins.md section 7, installed as a package and imported."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    block = doc.split("<!-- loss-plugin-example", 1)[1].split("```python\n", 1)[1]
    code = block.split("\n```", 1)[0]
    assert len(code.splitlines()) <= 40
    package = tmp_path / "ganzoo_lsgan_pm1_doc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module("ganzoo_lsgan_pm1_doc.plugin")


def test_the_documented_loss_plugin_trains_in_both_trainers(tmp_path, monkeypatch):
    from gan_reference import forward, initial_weights

    plugin = documented_loss_plugin(tmp_path, monkeypatch)
    catalog = Catalog.load(plugins=[], extra=[("lsgan-pm1", plugin)])
    assert catalog.objectives.loss("least_squares_pm1").output == "score"
    recipe = recipe_for("least_squares_pm1", "alternating", objectives=catalog.objectives)
    weights = initial_weights(recipe)
    reals, noises = fixed_inputs(recipe, steps=3)
    # The first step's d_loss by hand: 0.5*(D(x) - 1)^2 + 0.5*(D(G(z)) + 1)^2, training mode.
    fake, _ = forward(recipe, "generator", weights, noises[0][0].astype(np.float64), True)
    d_real, _ = forward(recipe, "discriminator", weights, reals[0].astype(np.float64), True)
    d_fake, _ = forward(recipe, "discriminator", weights, fake, True)
    want = 0.5 * np.mean((d_real - 1) ** 2) + 0.5 * np.mean((d_fake + 1) ** 2)
    runs = {b: run_steps(b, recipe, weights, reals, noises) for b in BACKENDS}
    for backend, (metrics, _) in runs.items():
        assert metrics[0]["d_loss"] == pytest.approx(want, abs=1e-5), backend
        assert all(np.isfinite(list(m.values())).all() for m in metrics)
    if "keras" in runs:
        for key, value in runs["torch"][1].items():
            np.testing.assert_allclose(runs["keras"][1][key], value, rtol=0, atol=5e-5,
                                       err_msg=key)
