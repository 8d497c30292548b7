"""The three training steps (``recipe.step``), as TensorFlow ops traced into the trainer's loop.

Each step takes a batch of real images and returns ``[d_loss, g_loss, d_real, d_fake]``
(float32). The loss (``recipe.loss``, default binary cross-entropy on logits, into which the
seeds' final sigmoids are folded) and the penalty come from ``ganzoo_keras.losses``; with
``d_steps_per_g = k`` a step is given k batches (concatenated) and makes k discriminator
updates, one per batch with fresh noise, then one generator update.

A class-conditional pair (``fake_labels`` given) is called as ``G([z, y])`` and ``D([x, y])``:
every step then takes the real batch's labels too (``step(real, labels)``); generated images
are judged with the labels they were drawn for (uniform, from ``fake_labels``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ganzoo_keras.losses import BCE_LOGITS, Loss, bce_logits
from ganzoo_keras.runtime import keras, tf

__all__ = ["GanSteps", "bce_logits", "frozen", "mean_probability", "mean_raw", "penalty_term"]

Noise = Callable[[int], tf.Tensor]
# (real batch, fake batch) -> the weighted penalty added to the discriminator's loss.
PenaltyTerm = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def mean_probability(logits: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.sigmoid(tf.cast(logits, tf.float32)))


def mean_raw(scores: tf.Tensor) -> tf.Tensor:
    """d_real/d_fake of a loss without a sigmoid: the mean raw critic output."""
    return tf.reduce_mean(tf.cast(scores, tf.float32))


def _mean(values: list[tf.Tensor]) -> tf.Tensor:
    return values[0] if len(values) == 1 else tf.add_n(values) / float(len(values))


def penalty_term(penalty: Callable[..., tf.Tensor], discriminator: keras.Model, weight: float,
                 uniform: Callable[[int], tf.Tensor]) -> PenaltyTerm:
    """``(real, fake) -> penalty(D, real, fake, weight, uniform)``, D in training mode."""
    def forward(x: tf.Tensor) -> tf.Tensor:
        return discriminator(x, training=True)

    return lambda real, fake: penalty(forward, real, fake, weight, uniform)


@contextmanager
def frozen(model: keras.Model) -> Iterator[None]:
    """``model.trainable = False`` while the generator update is traced.

    This is the classic combined model's freeze, applied where it still means what it meant in
    Keras 2: the traced graph sees a frozen discriminator (batch-norm layers, if any, in
    inference mode and not updated; dropout still active) and only the generator's variables
    get gradients. The flag is restored at once, so the discriminator's own step trains it.
    """
    was = model.trainable
    model.trainable = False
    try:
        yield
    finally:
        model.trainable = was


class GanSteps:
    """The networks, their optimisers and the noise source; one method per step kind.

    ``loss_scale`` multiplies every loss before its gradient is taken (the reported losses are
    not scaled). Under a ``MirroredStrategy`` of N replicas it is 1/N: the optimisers *sum* the
    replicas' gradients, so each replica's mean over its shard, scaled by 1/N, sums to the
    gradient of the mean over the global batch.

    ``loss`` (default bce_logits) and ``probabilities`` (d_real/d_fake as mean sigmoid, else the
    mean raw output) come from the recipe's loss; ``penalty(real, fake)`` is the weighted
    penalty (see :func:`penalty_term`); ``d_steps_per_g`` the recipe's schedule.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 g_optimizer: keras.optimizers.Optimizer,
                 d_optimizer: keras.optimizers.Optimizer, noise: Noise, d_batches: str,
                 loss_scale: float = 1.0, *, loss: Loss = BCE_LOGITS,
                 probabilities: bool = True, penalty: PenaltyTerm | None = None,
                 d_steps_per_g: int = 1, fake_labels: Noise | None = None):
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.noise = noise
        self.d_batches = d_batches
        self.loss_scale = float(loss_scale)
        self.loss = loss
        self.d_metric = mean_probability if probabilities else mean_raw
        self.penalty = penalty
        self.d_steps_per_g = int(d_steps_per_g)
        self.fake_labels = fake_labels

    def _scaled(self, loss: tf.Tensor) -> tf.Tensor:
        # No op at all at 1.0, so single-device graphs are exactly what they were.
        return loss if self.loss_scale == 1.0 else loss * self.loss_scale

    def by_name(self, step: str) -> Callable[[tf.Tensor], tf.Tensor]:
        """The step function a recipe names (simultaneous, alternating or combined)."""
        steps = {"simultaneous": self.simultaneous, "alternating": self.alternating,
                 "combined": self.combined}
        if step not in steps:
            raise ValueError(f"unknown step '{step}' (expected one of {', '.join(steps)})")
        return steps[step]

    # -- building blocks ------------------------------------------------------------------

    def _fake(self, batch: int, training: bool) -> tf.Tensor:
        # float32 whatever the compute dtype, so fakes concatenate with real images.
        return tf.cast(self.generator(self.noise(batch), training=training), tf.float32)

    def _fakes(self, batch: int, training: bool) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``batch`` fakes from fresh noise (conditional: and fresh labels): (images, labels)."""
        if self.fake_labels is None:
            return self._fake(batch, training), None
        labels = self.fake_labels(batch)
        images = self.generator([self.noise(batch), labels], training=training)
        return tf.cast(images, tf.float32), labels

    def _d(self, images: tf.Tensor, labels: tf.Tensor | None, training: bool = True
           ) -> tf.Tensor:
        if labels is None:
            return self.discriminator(images, training=training)
        return self.discriminator([images, labels], training=training)

    def _label_batches(self, labels: tf.Tensor | None) -> list[tf.Tensor | None]:
        if labels is None:
            return [None] * self.d_steps_per_g
        return self._batches(labels)

    def _batches(self, real: tf.Tensor) -> list[tf.Tensor]:
        """The ``d_steps_per_g`` real batches a step was given (one when it is 1)."""
        k = self.d_steps_per_g
        if k == 1:
            return [real]
        n = real.shape[0] // k
        return [real[j * n:(j + 1) * n] for j in range(k)]

    def _d_loss(self, real: tf.Tensor, fake: tf.Tensor, real_logits: tf.Tensor,
                fake_logits: tf.Tensor) -> tf.Tensor:
        d_loss = self.loss.real(real_logits) + self.loss.fake(fake_logits)
        if self.penalty is not None:
            d_loss = d_loss + self.penalty(real, fake)
        return d_loss

    def _update_discriminator(self, images: tf.Tensor, loss_of: Callable[[tf.Tensor], tf.Tensor],
                              labels: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """One discriminator update on ``images`` (train_on_batch) minimising
        ``loss_of(logits)``; returns (logits, loss)."""
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            logits = tf.cast(self._d(images, labels), tf.float32)
            loss = loss_of(logits)
            scaled = self._scaled(loss)
        self.d_optimizer.apply(tape.gradient(scaled, variables), variables)
        return logits, loss

    def _update_generator(self, batch: int) -> tf.Tensor:
        """One generator update on fresh noise with flipped labels; D is not updated."""
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            logits = self._d(*self._fakes(batch, training=True))
            loss = self.loss.generator(logits)
            scaled = self._scaled(loss)
        self.g_optimizer.apply(tape.gradient(scaled, variables), variables)
        return loss

    # -- the three kinds ------------------------------------------------------------------

    def simultaneous(self, real: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """Seed 000: one forward pass, both networks updated from it (two tapes)."""
        batch = real.shape[0]
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake, fake_labels = self._fakes(batch, training=True)
            real_logits = self._d(real, labels)
            fake_logits = self._d(fake, fake_labels)
            d_loss = self._d_loss(real, fake, real_logits, fake_logits)
            g_loss = self.loss.generator(fake_logits)
            g_scaled, d_scaled = self._scaled(g_loss), self._scaled(d_loss)
        g_grads = g_tape.gradient(g_scaled, g_vars)
        d_grads = d_tape.gradient(d_scaled, d_vars)
        self.g_optimizer.apply(g_grads, g_vars)
        self.d_optimizer.apply(d_grads, d_vars)
        return tf.stack([d_loss, g_loss, self.d_metric(real_logits),
                         self.d_metric(fake_logits)])

    def alternating(self, real: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """Seed 004: discriminator update(s) on real and (detached) fake, then a generator
        update on fresh noise; both networks in training mode, as in the torch original."""
        metrics = [self._alternating_discriminator_update(b, y)
                   for b, y in zip(self._batches(real), self._label_batches(labels),
                                   strict=True)]
        d_loss, d_real, d_fake = (_mean(list(m)) for m in zip(*metrics, strict=True))
        g_loss = self._update_generator(real.shape[0] // self.d_steps_per_g)
        return tf.stack([d_loss, g_loss, d_real, d_fake])

    def _alternating_discriminator_update(self, real: tf.Tensor, labels: tf.Tensor | None = None
                                          ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        fake, fake_labels = self._fakes(real.shape[0], training=True)
        fake = tf.stop_gradient(fake)
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_logits = self._d(real, labels)
            fake_logits = self._d(fake, fake_labels)
            d_loss = self._d_loss(real, fake, real_logits, fake_logits)
            scaled = self._scaled(d_loss)
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)
        return d_loss, self.d_metric(real_logits), self.d_metric(fake_logits)

    def combined(self, real: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """Seeds 001-003: the discriminator trained on its own, then the generator through the
        frozen discriminator (the stacked "combined" model) on fresh noise with labels 1."""
        metrics = [self.combined_discriminator_update(b, y)
                   for b, y in zip(self._batches(real), self._label_batches(labels),
                                   strict=True)]
        d_loss, d_real, d_fake = (_mean(list(m)) for m in zip(*metrics, strict=True))
        g_loss = self.combined_generator_update(real.shape[0] // self.d_steps_per_g)
        return tf.stack([d_loss, g_loss, d_real, d_fake])

    def combined_discriminator_update(self, real: tf.Tensor, real_labels: tf.Tensor | None = None
                                      ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The discriminator's half of a combined step: (d_loss, d_real, d_fake).

        Fakes come from the generator in inference mode, as the seeds' ``generator.predict``.
        """
        batch = real.shape[0]
        fake, fake_labels = self._fakes(batch, training=False)
        ones = tf.ones([batch, 1], tf.float32)
        zeros = tf.zeros([batch, 1], tf.float32)
        loss = self.loss
        if self.d_batches == "concat":
            # Seed 001: one update on the concatenated batch, labels 1 then 0: the mean
            # per-sample term over the 2B samples (plus the penalty, if any).
            labels = tf.concat([ones, zeros], 0)

            def concat_loss(logits: tf.Tensor) -> tf.Tensor:
                if loss.concat is not None:
                    value = loss.concat(logits, labels)
                else:
                    value = 0.5 * (loss.real(logits[:batch]) + loss.fake(logits[batch:]))
                return value if self.penalty is None else value + self.penalty(real, fake)

            both = None if real_labels is None else tf.concat([real_labels, fake_labels], 0)
            logits, d_loss = self._update_discriminator(tf.concat([real, fake], 0), concat_loss,
                                                        both)
            real_logits, fake_logits = logits[:batch], logits[batch:]
        else:
            # Seeds 002/003: two train_on_batch calls; their mean is the reported loss. A
            # penalty (real-only: the card checks) joins the real update.
            def real_loss_of(logits: tf.Tensor) -> tf.Tensor:
                value = loss.real(logits)
                return value if self.penalty is None else value + self.penalty(real, fake)

            real_logits, real_loss = self._update_discriminator(real, real_loss_of, real_labels)
            fake_logits, fake_loss = self._update_discriminator(fake, loss.fake, fake_labels)
            d_loss = 0.5 * (real_loss + fake_loss)
        return d_loss, self.d_metric(real_logits), self.d_metric(fake_logits)

    def combined_generator_update(self, batch: int) -> tf.Tensor:
        """The generator's half of a combined step, through the frozen discriminator: g_loss."""
        with frozen(self.discriminator):
            return self._update_generator(batch)
