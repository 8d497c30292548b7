"""The families of issue 13 (wgangp, lsgan, sngan) on torch and Keras.

Beside the catalog-wide tests that run every card (counts in test_cards.py, builds in
test_torch_builder.py and test_keras_architecture.py, forward parity with plain Keras layers in
test_torch_keras_parity.py, one training step in test_step_parity.py, export and import in
test_export_cross_backend.py), this file checks, for each new family:

* the card says what its paper says (loss, penalty, schedule, optimiser, normalisation);
* the same canonical weights give the same generator images and discriminator outputs in the
  two backends' own networks, in training mode (batch statistics, the spectral-norm power
  iteration and the ``u`` it stores) and in inference mode;
* the same batch gives the same losses: the discriminator's real and fake terms, the
  generator's, and the gradient penalty with the same interpolation weights, each through the
  backend's own implementation (``ganzoo_torch.losses`` / ``ganzoo_keras.losses``).

Tolerance: 1e-4 absolute on images and discriminator outputs (float32; the largest measured
difference is ~1e-6) and 1e-4 relative (1e-5 absolute) on losses and the penalty, which sums
squared input gradients over 784 pixels.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ganzoo.cards import builtin_cards

torch = pytest.importorskip("torch")
if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("tensorflow is not installed", allow_module_level=True)

pytestmark = [pytest.mark.torch, pytest.mark.keras]

FAMILIES = ("wgangp", "lsgan", "sngan")
ATOL = 1e-4
LOSS_RTOL, LOSS_ATOL = 1e-4, 1e-5
BATCH = 6


def recipe_of(family: str):
    return next(c for c in builtin_cards() if c.family == family).recipe()


def test_the_cards_say_what_the_papers_say():
    wgangp, lsgan, sngan = (recipe_of(f) for f in FAMILIES)
    # Gulrajani et al. 2017, Algorithm 1: lambda 10, n_critic 5, Adam(1e-4, 0, 0.9).
    assert (wgangp.loss, wgangp.penalty.name, wgangp.penalty.weight, wgangp.d_steps_per_g) == (
        "wasserstein", "gradient_penalty", 10.0, 5)
    for part in ("generator", "discriminator"):
        adam = wgangp.optimizers[part]
        assert (adam.name, adam["lr"], adam["beta1"], adam["beta2"]) == ("adam", 1e-4, 0.0, 0.9)
    assert not any(layer.kind == "batch_norm" for layer in wgangp.discriminator.layers)
    # Mao et al. 2017: least squares, no penalty, one D step.
    assert (lsgan.loss, lsgan.penalty, lsgan.d_steps_per_g) == ("least_squares", None, 1)
    # Miyato et al. 2018: hinge, every D kernel spectrally normalised, LeakyReLU 0.1,
    # Table 1 setting C (Adam(2e-4, 0.5, 0.999), n_dis 1).
    assert (sngan.loss, sngan.penalty, sngan.d_steps_per_g) == ("hinge", None, 1)
    kernels = [layer for layer in sngan.discriminator.layers if layer.kind in ("conv", "dense")]
    assert kernels and all(layer.options["spectral_norm"] for layer in kernels)
    assert {layer.options["slope"] for layer in sngan.discriminator.layers
            if layer.kind == "leaky_relu"} == {0.1}
    for part in ("generator", "discriminator"):
        adam = sngan.optimizers[part]
        assert (adam["lr"], adam["beta1"], adam["beta2"]) == (2e-4, 0.5, 0.999)


def _random_weights(recipe, seed: int) -> dict[str, np.ndarray]:
    """Canonical weights for both networks: torch's initialisation, then trained-looking
    biases and batch-norm statistics and random unit ``u`` vectors."""
    from ganzoo_torch.builder import build_network
    from ganzoo_torch.canonical import canonical_weights

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    weights = {}
    for part in ("generator", "discriminator"):
        weights.update(canonical_weights(build_network(getattr(recipe, part)), part))
    for key, value in weights.items():
        if key.endswith(".sn_u"):
            u = rng.normal(0, 1, value.shape)
            weights[key] = (u / np.linalg.norm(u)).astype(np.float32)
        elif key.endswith("running_var"):
            weights[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
        elif not key.endswith(".weight"):
            weights[key] = rng.normal(0, 0.1, value.shape).astype(np.float32)
    return weights


def _torch_nets(recipe, weights):
    from ganzoo_torch.builder import build_network
    from ganzoo_torch.canonical import load_canonical_weights

    nets = {}
    for part in ("generator", "discriminator"):
        nets[part] = build_network(getattr(recipe, part))
        load_canonical_weights(nets[part], getattr(recipe, part), part, weights)
    return nets


def _keras_nets(recipe, weights):
    from ganzoo.frameworks import import_tensorflow

    import_tensorflow()  # torch first: the one safe import order
    from ganzoo_keras.builder import build_network
    from ganzoo_keras.canonical import load_canonical_weights

    nets = {}
    for part in ("generator", "discriminator"):
        nets[part] = build_network(getattr(recipe, part), part)
        load_canonical_weights(nets[part], getattr(recipe, part), part, weights)
    return nets


def _nchw(x: np.ndarray):
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)


def _nhwc(t) -> np.ndarray:
    return t.detach().permute(0, 2, 3, 1).numpy()


def _inputs(recipe, seed: int = 3):
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((BATCH, recipe.latent_dim)).astype(np.float32)
    real = rng.uniform(-1, 1, (BATCH, *recipe.image_shape)).astype(np.float32)
    eps = rng.uniform(0, 1, BATCH).astype(np.float32)
    return noise, real, eps


@pytest.mark.parametrize("family", FAMILIES)
def test_same_weights_give_the_same_outputs_in_both_backends(family):
    """Training-mode forwards (batch statistics, power iteration) twice, then inference."""
    from ganzoo_keras.canonical import to_canonical
    from ganzoo_torch.canonical import canonical_weights

    recipe = recipe_of(family)
    weights = _random_weights(recipe, seed=1)
    tnets, knets = _torch_nets(recipe, weights), _keras_nets(recipe, weights)
    noise, real, _ = _inputs(recipe)
    for net in tnets.values():
        net.train()
    for _ in range(2):  # the second call starts from the u (and statistics) the first stored
        t_fake = tnets["generator"](torch.from_numpy(noise))
        k_fake = knets["generator"](noise, training=True).numpy()
        np.testing.assert_allclose(_nhwc(t_fake), k_fake, rtol=0, atol=ATOL)
        batch = np.concatenate([real, k_fake])
        t_out = tnets["discriminator"](_nchw(batch)).detach().numpy()
        k_out = knets["discriminator"](batch, training=True).numpy()
        np.testing.assert_allclose(t_out, k_out, rtol=0, atol=ATOL)
    stored_t = {**canonical_weights(tnets["generator"], "generator"),
                **canonical_weights(tnets["discriminator"], "discriminator")}
    stored_k = {**to_canonical(knets["generator"], "generator"),
                **to_canonical(knets["discriminator"], "discriminator")}
    assert stored_t.keys() == stored_k.keys() == weights.keys()
    for key in weights:
        np.testing.assert_allclose(stored_t[key], stored_k[key], rtol=0, atol=1e-5, err_msg=key)
    moved = [k for k in weights if k.endswith((".sn_u", "running_mean"))
             and np.abs(stored_t[k] - weights[k]).max() > 1e-3]
    if family == "sngan":
        assert any(k.endswith(".sn_u") for k in moved), "training calls must store u"
    if family == "lsgan":
        assert moved, "training calls must move the batch-norm statistics"
    for net in tnets.values():
        net.eval()
    with torch.no_grad():
        t_images = _nhwc(tnets["generator"](torch.from_numpy(noise)))
        t_logits = tnets["discriminator"](_nchw(real)).numpy()
    np.testing.assert_allclose(t_images, knets["generator"](noise, training=False).numpy(),
                               rtol=0, atol=ATOL)
    np.testing.assert_allclose(t_logits, knets["discriminator"](real, training=False).numpy(),
                               rtol=0, atol=ATOL)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_batch_gives_the_same_losses_in_both_backends(family):
    """Each backend's loss and penalty implementations on its own networks' outputs."""
    from ganzoo_keras import losses as klosses
    from ganzoo_keras.runtime import tf
    from ganzoo_torch import losses as tlosses

    recipe = recipe_of(family)
    weights = _random_weights(recipe, seed=2)
    noise, real, eps = _inputs(recipe, seed=4)
    tnets, knets = _torch_nets(recipe, weights), _keras_nets(recipe, weights)
    for net in tnets.values():
        net.train()

    t_fake = tnets["generator"](torch.from_numpy(noise))
    t_real_out = tnets["discriminator"](_nchw(real))
    t_fake_out = tnets["discriminator"](t_fake)
    tloss = tlosses.loss_for(recipe)
    got_t = {"real": tloss.real(t_real_out), "fake": tloss.fake(t_fake_out),
             "generator": tloss.generator(t_fake_out)}

    k_fake = knets["generator"](noise, training=True)
    k_real_out = knets["discriminator"](real, training=True)
    k_fake_out = knets["discriminator"](k_fake, training=True)
    kloss = klosses.loss_for(recipe)
    got_k = {"real": kloss.real(k_real_out), "fake": kloss.fake(k_fake_out),
             "generator": kloss.generator(k_fake_out)}

    if recipe.penalty is not None:
        weight = recipe.penalty.weight
        got_t["penalty"] = tlosses.penalty_for(recipe)(
            tnets["discriminator"], _nchw(real), t_fake, weight,
            lambda n: torch.from_numpy(eps[:n]))
        got_k["penalty"] = klosses.penalty_for(recipe)(
            lambda x: knets["discriminator"](x, training=True), tf.constant(real), k_fake,
            weight, lambda n: tf.constant(eps[:n]))
        assert float(got_t["penalty"].detach()) > 1e-3  # a penalty of 0 compares nothing
    for key in got_t:
        assert float(got_t[key].detach()) == pytest.approx(float(got_k[key]), rel=LOSS_RTOL,
                                                  abs=LOSS_ATOL), key
