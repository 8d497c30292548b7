"""The three training steps (``recipe.step``), as TensorFlow ops traced into the trainer's loop.

Each step takes a batch of real images and returns ``[d_loss, g_loss, d_real, d_fake]``
(float32). The loss is always binary cross-entropy on logits: the seeds' final sigmoids are
folded into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ganzoo_keras.runtime import keras, tf

Noise = Callable[[int], tf.Tensor]


def bce_logits(logits: tf.Tensor, label: float) -> tf.Tensor:
    """Mean binary cross-entropy of ``logits`` against a constant label (Keras' from_logits)."""
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), tf.constant(label, tf.float32))
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def mean_probability(logits: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.sigmoid(tf.cast(logits, tf.float32)))


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
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 g_optimizer: keras.optimizers.Optimizer,
                 d_optimizer: keras.optimizers.Optimizer, noise: Noise, d_batches: str,
                 loss_scale: float = 1.0):
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.noise = noise
        self.d_batches = d_batches
        self.loss_scale = float(loss_scale)

    def _scaled(self, loss: tf.Tensor) -> tf.Tensor:
        # No op at all at 1.0, so single-device graphs are exactly what they were.
        return loss if self.loss_scale == 1.0 else loss * self.loss_scale

    def get(self, kind: str) -> Callable[[tf.Tensor], tf.Tensor]:
        """The step function for ``recipe.step``."""
        return {"simultaneous": self.simultaneous, "alternating": self.alternating,
                "combined": self.combined}[kind]

    # -- building blocks ------------------------------------------------------------------

    def _fake(self, batch: int, training: bool) -> tf.Tensor:
        # float32 whatever the compute dtype, so fakes concatenate with real images.
        return tf.cast(self.generator(self.noise(batch), training=training), tf.float32)

    def _update_discriminator(self, images: tf.Tensor, labels: tf.Tensor
                              ) -> tuple[tf.Tensor, tf.Tensor]:
        """One discriminator update on ``images`` (train_on_batch); returns (logits, loss)."""
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            logits = tf.cast(self.discriminator(images, training=True), tf.float32)
            loss = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
            scaled = self._scaled(loss)
        self.d_optimizer.apply(tape.gradient(scaled, variables), variables)
        return logits, loss

    def _update_generator(self, batch: int) -> tf.Tensor:
        """One generator update on fresh noise with flipped labels; D is not updated."""
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.discriminator(self._fake(batch, training=True), training=True)
            loss = bce_logits(logits, 1.0)
            scaled = self._scaled(loss)
        self.g_optimizer.apply(tape.gradient(scaled, variables), variables)
        return loss

    # -- the three kinds ------------------------------------------------------------------

    def simultaneous(self, real: tf.Tensor) -> tf.Tensor:
        """Seed 000: one forward pass, both networks updated from it (two tapes)."""
        batch = real.shape[0]
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self._fake(batch, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = bce_logits(real_logits, 1.0) + bce_logits(fake_logits, 0.0)
            g_loss = bce_logits(fake_logits, 1.0)
            g_scaled, d_scaled = self._scaled(g_loss), self._scaled(d_loss)
        g_grads = g_tape.gradient(g_scaled, g_vars)
        d_grads = d_tape.gradient(d_scaled, d_vars)
        self.g_optimizer.apply(g_grads, g_vars)
        self.d_optimizer.apply(d_grads, d_vars)
        return tf.stack([d_loss, g_loss, mean_probability(real_logits),
                         mean_probability(fake_logits)])

    def alternating(self, real: tf.Tensor) -> tf.Tensor:
        """Seed 004: a discriminator update on real and (detached) fake, then a generator
        update on fresh noise; both networks in training mode, as in the torch original."""
        batch = real.shape[0]
        fake = tf.stop_gradient(self._fake(batch, training=True))
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = bce_logits(real_logits, 1.0) + bce_logits(fake_logits, 0.0)
            scaled = self._scaled(d_loss)
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)
        g_loss = self._update_generator(batch)
        return tf.stack([d_loss, g_loss, mean_probability(real_logits),
                         mean_probability(fake_logits)])

    def combined(self, real: tf.Tensor) -> tf.Tensor:
        """Seeds 001-003: the discriminator trained on its own, then the generator through the
        frozen discriminator (the stacked "combined" model) on fresh noise with labels 1."""
        d_loss, d_real, d_fake = self.combined_discriminator_update(real)
        g_loss = self.combined_generator_update(real.shape[0])
        return tf.stack([d_loss, g_loss, d_real, d_fake])

    def combined_discriminator_update(self, real: tf.Tensor
                                      ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The discriminator's half of a combined step: (d_loss, d_real, d_fake).

        Fakes come from the generator in inference mode, as the seeds' ``generator.predict``.
        """
        batch = real.shape[0]
        fake = self._fake(batch, training=False)
        ones = tf.ones([batch, 1], tf.float32)
        zeros = tf.zeros([batch, 1], tf.float32)
        if self.d_batches == "concat":
            # Seed 001: one update on the concatenated batch, labels 1 then 0.
            logits, d_loss = self._update_discriminator(
                tf.concat([real, fake], 0), tf.concat([ones, zeros], 0))
            real_logits, fake_logits = logits[:batch], logits[batch:]
        else:
            # Seeds 002/003: two train_on_batch calls; their mean is the reported loss.
            real_logits, real_loss = self._update_discriminator(real, ones)
            fake_logits, fake_loss = self._update_discriminator(fake, zeros)
            d_loss = 0.5 * (real_loss + fake_loss)
        return d_loss, mean_probability(real_logits), mean_probability(fake_logits)

    def combined_generator_update(self, batch: int) -> tf.Tensor:
        """The generator's half of a combined step, through the frozen discriminator: g_loss."""
        with frozen(self.discriminator):
            return self._update_generator(batch)
