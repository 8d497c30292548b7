"""A numpy (float64) reference for one GAN training step, written from the seeds' maths, not
from either backend's code: the forward pass of dense / batch-norm / activation networks, the
binary cross-entropy on logits, gradients by central differences, and the optimisers' update
formulas. Used by the golden-step tests to check what each backend's step computes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ganzoo.cards import OptimizerSpec, Recipe, parse_card

Arrays = dict[str, np.ndarray]

# -- a tiny card: every layer the reference knows, batch norm in both networks --------------

LATENT = 3
IMAGE = (2, 2, 1)
BATCH = 4

_CARD = """
family = "golden"
title = "Golden-step GAN"
description = "A tiny dense GAN whose steps are checked against a numpy hand computation."
default_recipe = "golden"

[provenance]
seed_documents = []
source = "tests"
inferred = []
departures = []

[recipes.golden]
description = "Tiny networks, batch norm in both, a {step} step."
seed_document = "none"
dataset = "random"
latent_dim = 3
image_shape = [2, 2, 1]
noise = "{noise}"
batch_size = 4
epochs = 1
loss = "bce_logits"
step = "{step}"
d_batches = "{d_batches}"
optimizer.generator = {g_optimizer}
optimizer.discriminator = {d_optimizer}

[recipes.golden.expected_params]
generator_trainable = 44
generator_non_trainable = 8
discriminator_trainable = 25
discriminator_non_trainable = 6

[recipes.golden.generator]
layers = [
    {{ type = "dense", units = 4 }},
    {{ type = "batch_norm", momentum = 0.8 }},
    {{ type = "leaky_relu", slope = 0.2 }},
    {{ type = "dense", units = 4 }},
    {{ type = "tanh" }},
    {{ type = "reshape", shape = [2, 2, 1] }},
]

[recipes.golden.discriminator]
layers = [
    {{ type = "flatten" }},
    {{ type = "dense", units = 3 }},
    {{ type = "batch_norm", momentum = 0.7, epsilon = 0.01 }},
    {{ type = "leaky_relu", slope = 0.2 }},
    {{ type = "dense", units = 1 }},
]
"""

SGD = '{ name = "sgd", lr = 0.1 }'
# Betas far apart and a large epsilon, so that a swap or a misplaced epsilon shows.
ADAM = '{ name = "adam", lr = 0.01, beta1 = 0.5, beta2 = 0.9, epsilon = 0.001 }'


def golden_recipe(step: str, d_batches: str = "separate", optimizer: str = SGD,
                  d_optimizer: str | None = None, noise: str = "normal") -> Recipe:
    """The tiny card's recipe with the given step kind and optimisers, parsed as any card is."""
    text = _CARD.format(step=step, d_batches=d_batches, g_optimizer=optimizer,
                        d_optimizer=d_optimizer or optimizer, noise=noise)
    return parse_card(text, "golden.toml").recipe()


def initial_weights(recipe: Recipe, seed: int = 0) -> Arrays:
    """Canonical float32 weights for both networks, BN statistics far from (0, 1) so that
    inference-mode and training-mode batch norm give clearly different results."""
    rng = np.random.default_rng(seed)
    out: Arrays = {}
    for part in ("generator", "discriminator"):
        for key, shape in getattr(recipe, part).tensor_shapes(part).items():
            if key.endswith("running_var"):
                value = rng.uniform(0.5, 2.0, shape)
            elif key.endswith("running_mean"):
                value = rng.normal(0.0, 0.5, shape)
            elif key.endswith(".bias"):
                value = rng.normal(0.0, 0.2, shape)
            else:
                value = rng.normal(0.0, 0.8, shape)
            out[key] = value.astype(np.float32)
    return out


# -- forward --------------------------------------------------------------------------------

def forward(recipe: Recipe, part: str, weights: Arrays, x: np.ndarray, train: bool
            ) -> tuple[np.ndarray, Arrays]:
    """``part``'s output on ``x`` (NHWC images or latent rows), and the BN running statistics
    a training-mode pass leaves (Keras' rule: biased batch variance, ``momentum`` = weight of
    the old value). Inference mode uses and keeps the running statistics."""
    stats: Arrays = {}
    for i, layer in enumerate(getattr(recipe, part).layers):
        name, o = f"{part}.{i}", layer.options
        if layer.kind == "flatten":
            x = x.reshape(len(x), -1)
        elif layer.kind == "reshape":
            x = x.reshape(len(x), *o["shape"])
        elif layer.kind == "dense":
            x = x @ weights[f"{name}.weight"].T
            if f"{name}.bias" in weights:
                x = x + weights[f"{name}.bias"]
        elif layer.kind == "batch_norm":
            mean, var = weights[f"{name}.running_mean"], weights[f"{name}.running_var"]
            if train:
                batch_mean, batch_var = x.mean(0), x.var(0)
                m = o["momentum"]
                stats[f"{name}.running_mean"] = m * mean + (1 - m) * batch_mean
                stats[f"{name}.running_var"] = m * var + (1 - m) * batch_var
                mean, var = batch_mean, batch_var
            x = (x - mean) / np.sqrt(var + o["epsilon"]) * weights[f"{name}.weight"] \
                + weights[f"{name}.bias"]
        elif layer.kind == "leaky_relu":
            x = np.where(x > 0, x, o["slope"] * x)
        elif layer.kind == "relu":
            x = np.maximum(x, 0)
        elif layer.kind == "tanh":
            x = np.tanh(x)
        else:  # pragma: no cover - the tiny card uses only the kinds above
            raise NotImplementedError(layer.kind)
    return x, stats


def bce_logits(logits: np.ndarray, label: np.ndarray | float) -> float:
    """Mean binary cross-entropy of a sigmoid on ``logits`` against ``label``."""
    label = np.broadcast_to(np.asarray(label, np.float64), logits.shape)
    return float(np.mean(np.maximum(logits, 0) - logits * label
                         + np.log1p(np.exp(-np.abs(logits)))))


def sigmoid_mean(logits: np.ndarray) -> float:
    return float(np.mean(1 / (1 + np.exp(-logits))))


def trainable(recipe: Recipe, part: str) -> list[str]:
    """``part``'s trainable tensors (BN running statistics are not)."""
    return [k for k in getattr(recipe, part).tensor_shapes(part) if "running" not in k]


def numeric_gradient(loss: Callable[[Arrays], float], weights: Arrays, names: Sequence[str],
                     h: float = 1e-6) -> Arrays:
    """d loss / d weights[name] by central differences in float64 (error ~1e-9 here)."""
    grads = {}
    for name in names:
        base = weights[name]
        grad = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            shifted = dict(weights)
            for sign in (1, -1):
                moved = base.copy()
                moved[index] += sign * h
                shifted[name] = moved
                grad[index] += sign * loss(shifted)
        grads[name] = grad / (2 * h)
    return grads


# -- optimisers -----------------------------------------------------------------------------

@dataclass
class Optimizer:
    """The update rule a backend applies for ``spec``; ``keras_epsilon`` places epsilon as
    Keras does (outside the bias correction of the second moment) rather than as torch does."""

    spec: OptimizerSpec
    keras_epsilon: bool
    slots: dict[str, tuple[np.ndarray, np.ndarray, int]] = field(default_factory=dict)

    def apply(self, weights: Arrays, grads: Arrays) -> Arrays:
        out = dict(weights)
        s = self.spec.settings
        for name, g in grads.items():
            w = weights[name]
            if self.spec.name == "sgd":
                # torch: buf = mu*buf + g, w -= lr*buf; Keras: m = mu*m - lr*g, w += m.
                buf, _, t = self.slots.get(name, (np.zeros_like(g), None, 0))
                buf = s["momentum"] * buf + g if t else g
                self.slots[name] = (buf, buf, t + 1)
                out[name] = w - s["lr"] * buf
                continue
            m, v, t = self.slots.get(name, (np.zeros_like(g), np.zeros_like(g), 0))
            t += 1
            b1, b2, eps, lr = s["beta1"], s["beta2"], s["epsilon"], s["lr"]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            self.slots[name] = (m, v, t)
            if self.keras_epsilon:
                alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
                out[name] = w - alpha * m / (np.sqrt(v) + eps)
            else:
                out[name] = w - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        return out


# -- the steps ------------------------------------------------------------------------------

@dataclass
class Reference:
    """Both networks' weights and optimisers; :meth:`step` is one training step of the
    recipe's kind on ``real`` (NHWC) with the latent batches drawn from ``noise``."""

    recipe: Recipe
    weights: Arrays
    keras_epsilon: bool
    g_opt: Optimizer = field(init=False)
    d_opt: Optimizer = field(init=False)

    def __post_init__(self) -> None:
        self.weights = {k: v.astype(np.float64) for k, v in self.weights.items()}
        self.g_opt = Optimizer(self.recipe.optimizers["generator"], self.keras_epsilon)
        self.d_opt = Optimizer(self.recipe.optimizers["discriminator"], self.keras_epsilon)

    def _run(self, part: str, x: np.ndarray, train: bool, weights: Arrays | None = None
             ) -> np.ndarray:
        """Forward that also records the BN statistics a training-mode pass updates."""
        y, stats = forward(self.recipe, part, weights or self.weights, x, train)
        self.weights.update(stats)
        return y

    def _update(self, part: str, loss: Callable[[Arrays], float]) -> None:
        names = trainable(self.recipe, part)
        grads = numeric_gradient(loss, self.weights, names)
        opt = self.g_opt if part == "generator" else self.d_opt
        self.weights.update({k: v for k, v in opt.apply(self.weights, grads).items()
                             if k in names})

    def _d_logits(self, w: Arrays, x: np.ndarray, train: bool = True) -> np.ndarray:
        return forward(self.recipe, "discriminator", w, x, train)[0]

    def _g_out(self, w: Arrays, z: np.ndarray, train: bool = True) -> np.ndarray:
        return forward(self.recipe, "generator", w, z, train)[0]

    def _generator_update(self, z: np.ndarray, frozen_d: bool) -> float:
        """G trained through D toward the *real* label; D's BN in inference mode if frozen."""
        d_train = not frozen_d

        def loss(w: Arrays) -> float:
            return bce_logits(self._d_logits(w, self._g_out(w, z), d_train), 1.0)

        g_loss = loss(self.weights)
        fake = self._run("generator", z, True)  # G's BN statistics move
        self._run("discriminator", fake, d_train)  # D's move only when it is not frozen
        self._update("generator", loss)
        return g_loss

    def step(self, real: np.ndarray, noise: Iterator[np.ndarray]) -> dict[str, float]:
        real = real.astype(np.float64)
        kind, batch = self.recipe.step, len(real)
        if kind == "simultaneous":
            z = next(noise)
            w0 = dict(self.weights)
            fake = self._g_out(w0, z)
            real_logits = self._d_logits(w0, real)
            fake_logits = self._d_logits(w0, fake)

            def d_loss_of(w: Arrays) -> float:
                return (bce_logits(self._d_logits(w, real), 1.0)
                        + bce_logits(self._d_logits(w, fake), 0.0))

            def g_loss_of(w: Arrays) -> float:
                return bce_logits(self._d_logits(w, self._g_out(w, z)), 1.0)

            d_loss, g_loss = d_loss_of(w0), g_loss_of(w0)
            g_grads = numeric_gradient(g_loss_of, w0, trainable(self.recipe, "generator"))
            d_grads = numeric_gradient(d_loss_of, w0, trainable(self.recipe, "discriminator"))
            # BN statistics: G once on z, D on the real batch and then on the fakes.
            self._run("generator", z, True, w0)
            self._run("discriminator", real, True, dict(w0))
            self._run("discriminator", fake, True)
            self.weights.update({k: v for k, v in self.g_opt.apply(w0, g_grads).items()
                                 if k in g_grads})
            self.weights.update({k: v for k, v in self.d_opt.apply(w0, d_grads).items()
                                 if k in d_grads})
        elif kind == "alternating":
            fake = self._run("generator", next(noise), True)  # training mode, detached
            w0 = dict(self.weights)
            real_logits = self._d_logits(w0, real)
            fake_logits = self._d_logits(w0, fake)

            def d_loss_of(w: Arrays) -> float:
                return (bce_logits(self._d_logits(w, real), 1.0)
                        + bce_logits(self._d_logits(w, fake), 0.0))

            d_loss = d_loss_of(w0)
            self._run("discriminator", real, True)
            self._run("discriminator", fake, True)
            self._update("discriminator", d_loss_of)
            g_loss = self._generator_update(next(noise), frozen_d=False)
        else:  # combined: fakes from G in inference mode, D trained, then G through frozen D
            fake = self._g_out(self.weights, next(noise), train=False)
            if self.recipe.d_batches == "concat":
                images = np.concatenate([real, fake])
                labels = np.concatenate([np.ones((batch, 1)), np.zeros((batch, 1))])
                logits = self._d_logits(self.weights, images)
                real_logits, fake_logits = logits[:batch], logits[batch:]
                d_loss = bce_logits(logits, labels)
                self._run("discriminator", images, True, dict(self.weights))
                self._update("discriminator",
                             lambda w: bce_logits(self._d_logits(w, images), labels))
            else:
                real_logits = self._d_logits(self.weights, real)
                real_loss = bce_logits(real_logits, 1.0)
                self._run("discriminator", real, True, dict(self.weights))
                self._update("discriminator",
                             lambda w: bce_logits(self._d_logits(w, real), 1.0))
                fake_logits = self._d_logits(self.weights, fake)
                fake_loss = bce_logits(fake_logits, 0.0)
                self._run("discriminator", fake, True, dict(self.weights))
                self._update("discriminator",
                             lambda w: bce_logits(self._d_logits(w, fake), 0.0))
                d_loss = (real_loss + fake_loss) / 2
            g_loss = self._generator_update(next(noise), frozen_d=True)
        return {"d_loss": d_loss, "g_loss": g_loss, "d_real": sigmoid_mean(real_logits),
                "d_fake": sigmoid_mean(fake_logits)}
