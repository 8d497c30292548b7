"""The baselines a careful user would write by hand, for torch and for Keras.

Same networks as ganzoo (the public builders ``ganzoo_torch.build_networks`` /
``ganzoo_keras.build_networks``), the recipe's step and loss written out, the images held as
one float tensor in memory and batches taken by a per-epoch ``randperm`` (no DataLoader, no
tf.data), the framework's stock Adam/SGD, and no per-step host sync (the loss is read back
every ``log_every`` steps, as a notebook printing progress would).

A class-conditional recipe (cgan) is written the way its paper and ganzoo's card say: real
images judged with their own labels (given as ``labels``), generated ones with labels drawn
uniformly per batch, the same labels for G's update; networks called ``G(z, y)``/``D(x, y)``
(torch) and ``G([z, y])``/``D([x, y])`` (Keras).

:func:`unsupported` gives the reason where a recipe needs something not written here (a
plugin's own loss, say): the benchmark prints that note instead of a figure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

LOG_EVERY = 20
TORCH_LOSSES = ("bce_logits", "least_squares", "hinge", "wasserstein")
PENALTIES = ("gradient_penalty",)


def unsupported(recipe: Any) -> str | None:
    """Why no careful loop is written for ``recipe`` (None: one is)."""
    if getattr(recipe, "conditional", False) and recipe.penalty is not None:
        return "a penalty on a class-conditional critic has no hand-written baseline"
    if recipe.loss not in TORCH_LOSSES:
        return f"loss '{recipe.loss}' has no hand-written baseline"
    if recipe.penalty is not None and recipe.penalty.name not in PENALTIES:
        return f"penalty '{recipe.penalty.name}' has no hand-written baseline"
    if recipe.penalty is not None and recipe.step == "combined" and recipe.d_batches != "concat":
        return "a penalty in separate combined batches has no hand-written baseline"
    if recipe.step == "simultaneous" and (recipe.d_steps_per_g != 1 or recipe.penalty):
        return "simultaneous step with k > 1 or a penalty has no hand-written baseline"
    return None


# -- torch ---------------------------------------------------------------------------------


def careful_torch_loop(recipe: Any, images: np.ndarray, batch: int, seed: int = 0,
                       labels: np.ndarray | None = None) -> Callable[[int], None]:
    """``run(n)``: n generator updates of a hand-written PyTorch loop of ``recipe``
    (``labels``: the images' classes, for a class-conditional recipe)."""
    import torch
    import torch.nn.functional as F

    from ganzoo_torch import build_networks

    torch.manual_seed(seed)
    G, D = build_networks(recipe)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    data = data.contiguous()
    conditional = getattr(recipe, "conditional", False)
    classes = recipe.classes if conditional else 0
    data_labels = (torch.as_tensor(class_labels(recipe, labels, len(images))).long()
                   if conditional else None)

    def adam(spec: Any, params: Any) -> torch.optim.Optimizer:
        if spec.name == "adam":
            return torch.optim.Adam(params, lr=spec["lr"], eps=spec["epsilon"],
                                    betas=(spec["beta1"], spec["beta2"]))
        return torch.optim.SGD(params, lr=spec["lr"], momentum=spec["momentum"])

    g_opt = adam(recipe.optimizers["generator"], G.parameters())
    d_opt = adam(recipe.optimizers["discriminator"], D.parameters())
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    norms = [m for m in D.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    k, kind, latent = recipe.d_steps_per_g, recipe.loss, recipe.latent_dim

    def noise() -> torch.Tensor:
        if recipe.noise == "normal":
            return torch.randn(batch, latent)
        return torch.rand(batch, latent) * 2 - 1

    def fake_labels() -> torch.Tensor | None:
        return torch.randint(0, classes, (batch,)) if conditional else None

    def gen(y: torch.Tensor | None) -> torch.Tensor:
        return G(noise()) if y is None else G(noise(), y)

    def disc(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return D(x) if y is None else D(x, y)

    def loss_real(out: torch.Tensor) -> torch.Tensor:
        return {"bce_logits": lambda: F.binary_cross_entropy_with_logits(out, ones),
                "least_squares": lambda: 0.5 * (out - 1).square().mean(),
                "hinge": lambda: F.relu(1 - out).mean(),
                "wasserstein": lambda: -out.mean()}[kind]()

    def loss_fake(out: torch.Tensor) -> torch.Tensor:
        return {"bce_logits": lambda: F.binary_cross_entropy_with_logits(out, zeros),
                "least_squares": lambda: 0.5 * out.square().mean(),
                "hinge": lambda: F.relu(1 + out).mean(),
                "wasserstein": lambda: out.mean()}[kind]()

    def loss_g(out: torch.Tensor) -> torch.Tensor:
        if kind in ("bce_logits", "least_squares"):
            return loss_real(out)
        return -out.mean()

    def penalty(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | float:
        if recipe.penalty is None:
            return 0.0
        eps = torch.rand(real.shape[0], 1, 1, 1)
        x = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        return recipe.penalty.weight * (grad.flatten(1).norm(dim=1) - 1).square().mean()

    def d_update(loss: torch.Tensor) -> None:
        d_opt.zero_grad(set_to_none=True)
        loss.backward()
        d_opt.step()

    def g_update(frozen_norms: bool) -> torch.Tensor:
        for p in D.parameters():
            p.requires_grad_(False)
        for m in norms if frozen_norms else ():
            m.eval()
        y = fake_labels()
        g_loss = loss_g(disc(gen(y), y))
        for m in norms if frozen_norms else ():
            m.train()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        for p in D.parameters():
            p.requires_grad_(True)
        return g_loss

    def step(batches: list[torch.Tensor],
             label_batches: list[torch.Tensor] | None = None) -> torch.Tensor:
        ys: list[Any] = label_batches or [None] * len(batches)
        if recipe.step == "simultaneous":
            y = fake_labels()
            fake = gen(y)
            real_out, fake_out = disc(batches[0], ys[0]), disc(fake, y)
            d_loss = loss_real(real_out) + loss_fake(fake_out)
            g_loss = loss_g(fake_out)
            g_grads = torch.autograd.grad(g_loss, list(G.parameters()), retain_graph=True)
            d_grads = torch.autograd.grad(d_loss, list(D.parameters()))
            for p, g in zip([*G.parameters(), *D.parameters()], [*g_grads, *d_grads],
                            strict=True):
                p.grad = g
            g_opt.step()
            d_opt.step()
            return g_loss
        for real, y_real in zip(batches, ys, strict=True):
            if recipe.step == "combined":
                G.eval()
            y = fake_labels()
            with torch.no_grad():
                fake = gen(y)
            G.train()
            if recipe.step == "alternating":
                d_update(loss_real(disc(real, y_real)) + loss_fake(disc(fake, y))
                         + penalty(real, fake))
            elif recipe.d_batches == "concat":
                both = None if y is None else torch.cat([y_real, y])
                out = disc(torch.cat([real, fake]), both)
                d_update(0.5 * (loss_real(out[:batch]) + loss_fake(out[batch:]))
                         + penalty(real, fake))
            else:
                d_update(loss_real(disc(real, y_real)))
                d_update(loss_fake(disc(fake, y)))
        return g_update(frozen_norms=recipe.step == "combined")

    steps_per_epoch = len(data) // (batch * k)
    state = {"order": torch.randperm(len(data)), "i": 0}

    def run(n: int) -> None:
        for _ in range(n):
            if state["i"] >= steps_per_epoch:
                state["order"], state["i"] = torch.randperm(len(data)), 0
            first = state["i"] * batch * k
            idx = state["order"][first:first + batch * k]
            real = data[idx]
            ys = None if data_labels is None else list(data_labels[idx].split(batch))
            g_loss = step(list(real.split(batch)), ys)
            state["i"] += 1
            if state["i"] % LOG_EVERY == 0:
                g_loss.item()

    run.step = step  # type: ignore[attr-defined]  # one step on given batches (FLOP count)
    run.data = data  # type: ignore[attr-defined]
    run.labels = data_labels  # type: ignore[attr-defined]
    run.networks = (G, D)  # type: ignore[attr-defined]
    return run


def class_labels(recipe: Any, labels: np.ndarray | None, count: int) -> np.ndarray:
    """The images' class labels for a conditional recipe (given, or seeded uniform ones for
    random benchmark images)."""
    from ganzoo.conditioning import uniform_labels

    if labels is None:
        labels = uniform_labels(count, recipe.classes, seed=1)
    if len(labels) != count or labels.min() < 0 or labels.max() >= recipe.classes:
        raise ValueError(f"need {count} labels in [0, {recipe.classes})")
    return np.asarray(labels, dtype=np.int64)


def torch_flops_per_step(recipe: Any, batch: int) -> int:
    """FLOPs of one careful-loop step, counted with ``torch.utils.flop_counter``'s formulas
    (matmuls and convolutions, forward and backward, the penalty's double backward included;
    elementwise work and the optimiser not counted).

    It counts through a plain dispatch mode rather than ``FlopCounterMode``, whose per-module
    hooks refuse the ``autograd.grad`` of a gradient penalty."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                               kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                self.total += int(formula(*args, **kwargs, out_val=out))
            return out

    images = np.zeros((batch * recipe.d_steps_per_g, *recipe.image_shape), dtype=np.uint8)
    run = careful_torch_loop(recipe, images, batch)
    batches = list(run.data.split(batch))  # type: ignore[attr-defined]
    ys = None if run.labels is None else list(run.labels.split(batch))  # type: ignore[attr-defined]
    run.step(batches, ys)  # type: ignore[attr-defined]  # optimiser state exists
    counter = Count()
    with counter:
        run.step(batches, ys)  # type: ignore[attr-defined]
    torch.manual_seed(0)
    return counter.total


def _best_rate(call: Callable[[], Any], flops: float, repeats: int) -> float:
    """GFLOP/s of ``call`` from the median of ``repeats`` timings (after one warm-up call)."""
    import statistics
    import time

    call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return flops / statistics.median(times) / 1e9


def sgemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    """A ``size`` x ``size`` float32 ``torch.mm`` (BLAS: MKL in the pip wheels), median of
    ``repeats``, in GFLOP/s."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    return _best_rate(lambda: torch.mm(a, b, out=out), 2 * size ** 3, repeats)


def conv_gemm_gflops(repeats: int = 5) -> float:
    """A 3x3, 256 -> 256 channel float32 convolution of a (32, 256, 16, 16) channels-last
    batch (oneDNN's implicit GEMM: 9.7 GFLOP), median of ``repeats``, in GFLOP/s.

    Why beside the sgemm: MKL's sgemm does not reach the vector units' peak on every CPU
    (on this AMD EPYC it gives ~190 GFLOP/s where oneDNN's convolution gives ~500, 98% of
    2 cores x 64 FLOP/cycle x ~3.9 GHz), so a fraction of the sgemm alone can pass 100%."""
    import torch
    import torch.nn.functional as F

    x = torch.randn(32, 256, 16, 16).contiguous(memory_format=torch.channels_last)
    w = torch.randn(256, 256, 3, 3).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        return _best_rate(lambda: F.conv2d(x, w, padding=1), 2 * 32 * 16 * 16 * 256 * 256 * 9,
                          repeats)


def peak_rates(repeats: int = 5) -> dict[str, float]:
    """The matrix-multiply rates the achieved ones are a fraction of: ``sgemm`` and
    ``conv_gemm`` (GFLOP/s, medians of ``repeats``); the peak is the best of them."""
    return {"sgemm": sgemm_gflops(repeats=repeats), "conv_gemm": conv_gemm_gflops(repeats)}


# -- Keras ---------------------------------------------------------------------------------


def careful_keras_loop(recipe: Any, images: np.ndarray, batch: int, seed: int = 0,
                       labels: np.ndarray | None = None) -> Callable[[int], None]:
    """``run(n)``: n generator updates of a hand-written ``tf.function`` loop of ``recipe``
    (one compiled step per call, batches gathered from an in-memory tensor)."""
    from ganzoo_keras import build_networks
    from ganzoo_keras.runtime import keras, tf

    keras.utils.set_random_seed(seed)
    G, D = build_networks(recipe)

    def optimizer(spec: Any) -> Any:
        if spec.name == "adam":
            return keras.optimizers.Adam(learning_rate=spec["lr"], beta_1=spec["beta1"],
                                         beta_2=spec["beta2"], epsilon=spec["epsilon"])
        return keras.optimizers.SGD(learning_rate=spec["lr"], momentum=spec["momentum"])

    g_opt, d_opt = optimizer(recipe.optimizers["generator"]), optimizer(
        recipe.optimizers["discriminator"])
    data = tf.constant(images.astype(np.float32) / 127.5 - 1.0)
    k, kind, latent, n_images = recipe.d_steps_per_g, recipe.loss, recipe.latent_dim, len(images)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    conditional = getattr(recipe, "conditional", False)
    data_labels = (tf.constant(class_labels(recipe, labels, n_images).astype(np.int32))
                   if conditional else None)

    def fake_labels() -> Any:
        if not conditional:
            return None
        return tf.random.uniform([batch], 0, recipe.classes, dtype=tf.int32)

    def gen(y: Any, training: bool) -> Any:
        return G(noise() if y is None else [noise(), y], training=training)

    def disc(x: Any, y: Any) -> Any:
        return D(x if y is None else [x, y], training=True)

    def noise() -> Any:
        if recipe.noise == "normal":
            return tf.random.normal([batch, latent])
        return tf.random.uniform([batch, latent], -1.0, 1.0)

    def loss_real(out: Any) -> Any:
        if kind == "bce_logits":
            return bce(tf.ones_like(out), out)
        if kind == "least_squares":
            return 0.5 * tf.reduce_mean(tf.square(out - 1))
        if kind == "hinge":
            return tf.reduce_mean(tf.nn.relu(1 - out))
        return -tf.reduce_mean(out)

    def loss_fake(out: Any) -> Any:
        if kind == "bce_logits":
            return bce(tf.zeros_like(out), out)
        if kind == "least_squares":
            return 0.5 * tf.reduce_mean(tf.square(out))
        if kind == "hinge":
            return tf.reduce_mean(tf.nn.relu(1 + out))
        return tf.reduce_mean(out)

    def loss_g(out: Any) -> Any:
        return loss_real(out) if kind in ("bce_logits", "least_squares") else -tf.reduce_mean(out)

    def penalty(real: Any, fake: Any) -> Any:
        if recipe.penalty is None:
            return 0.0
        eps = tf.random.uniform([batch, 1, 1, 1])
        x = eps * real + (1 - eps) * fake
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.reduce_sum(D(x, training=True))
        grad = tf.reshape(tape.gradient(out, x), [batch, -1])
        return recipe.penalty.weight * tf.reduce_mean(tf.square(tf.norm(grad, axis=1) - 1))

    def d_update(compute: Callable[[], Any]) -> None:
        with tf.GradientTape() as tape:
            loss = compute()
        d_opt.apply_gradients(zip(tape.gradient(loss, D.trainable_variables),
                                  D.trainable_variables, strict=True))

    @tf.function
    def step(real_k: Any, y_k: Any = None) -> Any:
        def real_labels(j: int) -> Any:
            return None if y_k is None else y_k[j * batch:(j + 1) * batch]

        if recipe.step == "simultaneous":
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                y = fake_labels()
                fake = gen(y, training=True)
                real_out, fake_out = disc(real_k, real_labels(0)), disc(fake, y)
                d_loss = loss_real(real_out) + loss_fake(fake_out)
                g_loss = loss_g(fake_out)
            g_opt.apply_gradients(zip(g_tape.gradient(g_loss, G.trainable_variables),
                                      G.trainable_variables, strict=True))
            d_opt.apply_gradients(zip(d_tape.gradient(d_loss, D.trainable_variables),
                                      D.trainable_variables, strict=True))
            return g_loss
        for j in range(k):
            real, y_real, y = real_k[j * batch:(j + 1) * batch], real_labels(j), fake_labels()
            fake = gen(y, training=recipe.step != "combined")
            if recipe.step == "alternating":
                d_update(lambda r=real, f=fake, yr=y_real, yf=y: loss_real(disc(r, yr))
                         + loss_fake(disc(f, yf)) + penalty(r, f))
            elif recipe.d_batches == "concat":
                def concat(r: Any = real, f: Any = fake, yr: Any = y_real, yf: Any = y) -> Any:
                    both = None if yf is None else tf.concat([yr, yf], 0)
                    out = disc(tf.concat([r, f], 0), both)
                    return 0.5 * (loss_real(out[:batch]) + loss_fake(out[batch:])) + penalty(r, f)
                d_update(concat)
            else:
                d_update(lambda r=real, yr=y_real: loss_real(disc(r, yr)))
                d_update(lambda f=fake, yf=y: loss_fake(disc(f, yf)))
        with tf.GradientTape() as tape:
            # Keras' frozen D would run batch norm on running statistics in the combined
            # step; the cost is the same, so the loop keeps training=True (dropout active)
            y = fake_labels()
            out = disc(gen(y, training=True), y)
            g_loss = loss_g(out)
        g_opt.apply_gradients(zip(tape.gradient(g_loss, G.trainable_variables),
                                  G.trainable_variables, strict=True))
        return g_loss

    steps_per_epoch = n_images // (batch * k)
    rng = np.random.default_rng(seed)
    state = {"order": rng.permutation(n_images), "i": 0}

    def run(n: int) -> None:
        for _ in range(n):
            if state["i"] >= steps_per_epoch:
                state["order"], state["i"] = rng.permutation(n_images), 0
            first = state["i"] * batch * k
            idx = state["order"][first:first + batch * k]
            y_k = None if data_labels is None else tf.gather(data_labels, idx)
            g_loss = step(tf.gather(data, idx), y_k)
            state["i"] += 1
            if state["i"] % LOG_EVERY == 0:
                float(g_loss)

    run.networks = (G, D)  # type: ignore[attr-defined]
    return run
