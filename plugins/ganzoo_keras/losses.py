"""The TensorFlow implementations of the named losses and penalties (documented in
ganzoo.losses), as ops traced into the Keras trainer's loop.

A loss is three functions of the discriminator's raw output, each a mean over the batch:
``real(D(x))`` and ``fake(D(G(z)))`` (the discriminator minimises their sum) and
``generator(D(G(z)))``. Everything is computed in float32, whatever the compute dtype.

A penalty is a callable ``(discriminator, real, fake, weight, uniform) -> weighted penalty``
that runs its own discriminator forward (``discriminator(x)`` in training mode);
``uniform(n)`` draws n numbers in [0, 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ganzoo.cards import Recipe
from ganzoo_keras.runtime import tf

BACKEND = "keras"
Fn = Callable[[tf.Tensor], tf.Tensor]
Penalty = Callable[..., tf.Tensor]


@dataclass(frozen=True)
class Loss:
    """One loss for the steps. ``concat(out, labels)``, when given, is the exact loss of the
    combined step's concatenated batch; otherwise ``0.5 * (real + fake)``."""

    real: Fn
    fake: Fn
    generator: Fn
    concat: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None


def _f32(out: tf.Tensor) -> tf.Tensor:
    return tf.cast(out, tf.float32)


def bce_logits(logits: tf.Tensor, label: float) -> tf.Tensor:
    """Mean binary cross-entropy of ``logits`` against a constant label (Keras' from_logits)."""
    logits = _f32(logits)
    labels = tf.fill(tf.shape(logits), tf.constant(label, tf.float32))
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def _bce_labelled(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=_f32(logits)))


BCE_LOGITS = Loss(
    real=lambda out: bce_logits(out, 1.0),
    fake=lambda out: bce_logits(out, 0.0),
    generator=lambda out: bce_logits(out, 1.0),
    concat=_bce_labelled,
)
LEAST_SQUARES = Loss(
    real=lambda out: 0.5 * tf.reduce_mean(tf.square(_f32(out) - 1.0)),
    fake=lambda out: 0.5 * tf.reduce_mean(tf.square(_f32(out))),
    generator=lambda out: 0.5 * tf.reduce_mean(tf.square(_f32(out) - 1.0)),
)
HINGE = Loss(
    real=lambda out: tf.reduce_mean(tf.nn.relu(1.0 - _f32(out))),
    fake=lambda out: tf.reduce_mean(tf.nn.relu(1.0 + _f32(out))),
    generator=lambda out: -tf.reduce_mean(_f32(out)),
)
WASSERSTEIN = Loss(
    real=lambda out: -tf.reduce_mean(_f32(out)),
    fake=lambda out: tf.reduce_mean(_f32(out)),
    generator=lambda out: -tf.reduce_mean(_f32(out)),
)


def _input_gradient(discriminator: Callable, x: tf.Tensor) -> tf.Tensor:
    """d sum(D(x)) / dx per sample, flattened; recorded by any outer tape (double backward)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(_f32(discriminator(x)))
    grad = _f32(tape.gradient(total, x))
    return tf.reshape(grad, [tf.shape(grad)[0], -1])


def gradient_penalty(discriminator: Callable, real: tf.Tensor, fake: tf.Tensor, weight: float,
                     uniform: Callable[[int], tf.Tensor]) -> tf.Tensor:
    """WGAN-GP: ``weight * mean((||grad D(xhat)||_2 - 1)^2)``, xhat = eps*x + (1-eps)*G(z)."""
    batch = real.shape[0]
    eps = tf.reshape(tf.cast(uniform(batch), real.dtype), [batch] + [1] * (real.shape.rank - 1))
    xhat = eps * tf.stop_gradient(real) + (1.0 - eps) * tf.stop_gradient(fake)
    norm = tf.norm(_input_gradient(discriminator, xhat), axis=1)
    return weight * tf.reduce_mean(tf.square(norm - 1.0))


def r1(discriminator: Callable, real: tf.Tensor, fake: tf.Tensor, weight: float,
       uniform: Callable[[int], tf.Tensor]) -> tf.Tensor:
    """R1: ``weight / 2 * mean(||grad_x D(x)||_2^2)`` on the real batch."""
    grad = _input_gradient(discriminator, tf.stop_gradient(real))
    return weight / 2 * tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=1))


LOSSES: dict[str, Loss] = {"bce_logits": BCE_LOGITS, "least_squares": LEAST_SQUARES,
                           "hinge": HINGE, "wasserstein": WASSERSTEIN}
PENALTIES: dict[str, Penalty] = {"gradient_penalty": gradient_penalty, "r1": r1}


def loss_for(recipe: Recipe) -> Loss:
    """The Keras implementation of ``recipe.loss`` (built in, else registered by a plugin)."""
    impl = recipe.objectives.resolve("loss", recipe.loss, BACKEND, LOSSES)
    if isinstance(impl, type):  # a class with the three methods, registered by import path
        impl = impl()
    if isinstance(impl, Loss):
        return impl
    return Loss(impl.real, impl.fake, impl.generator, getattr(impl, "concat", None))


def reports_probabilities(recipe: Recipe) -> bool:
    """Whether d_real/d_fake are mean sigmoid probabilities (else mean raw critic outputs)."""
    return recipe.objectives.loss(recipe.loss).output == "probability"


def penalty_for(recipe: Recipe) -> Penalty | None:
    """The Keras implementation of ``recipe.penalty``, or None when the recipe has none."""
    if recipe.penalty is None:
        return None
    return recipe.objectives.resolve("penalty", recipe.penalty.name, BACKEND, PENALTIES)
