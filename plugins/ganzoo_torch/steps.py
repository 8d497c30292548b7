"""One training step in each of the three styles a card's ``recipe.step`` names.

The loss (``recipe.loss``) and penalty (``recipe.penalty``) come from ``ganzoo_torch.losses``;
``d_steps_per_g = k`` makes a step k discriminator updates, each on its own real batch of the
k the step is given and fresh noise, then one generator update (simultaneous steps: k = 1).

Every step returns ``(d_loss, g_loss, d_real, d_fake)`` as detached 0-d tensors that stay on
the device; the trainer sums them and reads them back once per ``run_steps`` call.

A class-conditional pair (``fake_labels`` given) is called as ``G(z, y)`` and ``D(x, y)``: every
step then takes the real batch's labels too (``step(real, labels)``), real images are judged
with their own labels and generated ones with the labels they were drawn for (uniform, from
``fake_labels``), the same labels for G's update.

Gradients go only where they are wanted through ``backward(inputs=...)``: the generator's loss
reaches the generator's parameters through the discriminator without computing (or touching)
the discriminator's gradients. That is the "frozen discriminator" of the Keras combined model
and the separate tapes of the TensorFlow step, without toggling ``requires_grad`` every step
(which would also make a compiled discriminator retrace).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ganzoo_torch.losses import BCE_LOGITS, Loss

Metrics = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
# (real batch, fake batch) -> the weighted penalty added to the discriminator's loss.
PenaltyTerm = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _mean_prob(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits.detach().float()).mean()


def _mean_raw(scores: torch.Tensor) -> torch.Tensor:
    return scores.detach().float().mean()


def _mean(values: list[torch.Tensor]) -> torch.Tensor:
    return values[0] if len(values) == 1 else torch.stack(values).mean()


class GanSteps:
    """The step functions over one generator/discriminator pair and their optimisers.

    ``g_forward``/``d_forward`` are the networks' forward callables (possibly compiled);
    ``generator``/``discriminator`` are the modules themselves, for modes and parameters.
    ``loss`` (default: bce_logits) and ``probabilities`` (d_real/d_fake as mean sigmoid, else
    as the mean raw output) come from the recipe's loss; ``penalty(real, fake)`` returns the
    weighted penalty (see :func:`penalty_term`); ``d_steps_per_g`` is the recipe's schedule.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        g_optimizer: torch.optim.Optimizer,
        d_optimizer: torch.optim.Optimizer,
        noise: Callable[[int], torch.Tensor],
        batch_size: int,
        device: torch.device,
        d_batches: str = "separate",
        g_forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
        d_forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
        sync_gradients: Callable[[list[nn.Parameter]], None] | None = None,
        *,
        loss: Loss = BCE_LOGITS,
        probabilities: bool = True,
        penalty: PenaltyTerm | None = None,
        d_steps_per_g: int = 1,
        fake_labels: Callable[[int], torch.Tensor] | None = None,
    ):
        self.generator = generator
        self.discriminator = discriminator
        self.g_forward = g_forward or generator
        self.d_forward = d_forward or discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.g_params = [p for p in generator.parameters() if p.requires_grad]
        self.d_params = [p for p in discriminator.parameters() if p.requires_grad]
        self.d_norms = [m for m in discriminator.modules()
                        if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.noise = noise
        # Data-parallel runs average gradients over the ranks before each update.
        self.sync_gradients = sync_gradients or (lambda params: None)
        self.batch_size = batch_size
        self.d_batches = d_batches
        self.loss = loss
        self.d_metric = _mean_prob if probabilities else _mean_raw
        self.penalty = penalty
        self.d_steps_per_g = int(d_steps_per_g)
        self.fake_labels = fake_labels

    # -- (conditional) forwards -------------------------------------------------------------

    def _labels(self, n: int) -> torch.Tensor | None:
        return None if self.fake_labels is None else self.fake_labels(n)

    def _g(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` fakes from fresh noise (and, conditional, fresh labels): (images, labels)."""
        labels = self._labels(n)
        z = self.noise(n)
        return (self.g_forward(z) if labels is None else self.g_forward(z, labels)), labels

    def _d(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.d_forward(x) if labels is None else self.d_forward(x, labels)

    def by_name(self, step: str) -> Callable[[torch.Tensor], Metrics]:
        """The step function a recipe names (simultaneous, alternating or combined)."""
        steps = {"simultaneous": self.simultaneous, "alternating": self.alternating,
                 "combined": self.combined}
        if step not in steps:
            raise ValueError(f"unknown step '{step}' (expected one of {', '.join(steps)})")
        return steps[step]

    # -- the three styles -----------------------------------------------------------------

    def simultaneous(self, real: torch.Tensor, labels: torch.Tensor | None = None) -> Metrics:
        """Seed 000 (tf.GradientTape): one forward, both losses, both optimisers step."""
        fake, fake_labels = self._g(self.batch_size)
        real_logits = self._d(real, labels)
        fake_logits = self._d(fake, fake_labels)
        d_loss = self._d_loss(real, fake, real_logits, fake_logits)
        g_loss = self.loss.generator(fake_logits)
        self.g_optimizer.zero_grad(set_to_none=True)
        self.d_optimizer.zero_grad(set_to_none=True)
        # Both gradients come from the same forward; the graph is kept for the second one.
        g_loss.backward(inputs=self.g_params, retain_graph=True)
        d_loss.backward(inputs=self.d_params)
        self.sync_gradients(self.g_params)
        self.sync_gradients(self.d_params)
        self.g_optimizer.step()
        self.d_optimizer.step()
        return (d_loss.detach(), g_loss.detach(), self.d_metric(real_logits),
                self.d_metric(fake_logits))

    def alternating(self, real: torch.Tensor, labels: torch.Tensor | None = None) -> Metrics:
        """Seed 004 (PyTorch): discriminator step(s), then a generator step on fresh noise."""
        metrics = [self._alternating_discriminator(batch, y)
                   for batch, y in zip(self._batches(real), self._label_batches(labels),
                                       strict=True)]
        g_loss = self.generator_step()
        d_loss, d_real, d_fake = (_mean(list(m)) for m in zip(*metrics, strict=True))
        return (d_loss, g_loss, d_real, d_fake)

    def combined(self, real: torch.Tensor, labels: torch.Tensor | None = None) -> Metrics:
        """Seeds 001-003 (Keras combined model): D on predicted fakes, then G through frozen D."""
        metrics = [self._combined_discriminator(batch, y)
                   for batch, y in zip(self._batches(real), self._label_batches(labels),
                                       strict=True)]
        g_loss = self.generator_step(frozen_d=True)
        d_loss, d_real, d_fake = (_mean(list(m)) for m in zip(*metrics, strict=True))
        return (d_loss, g_loss, d_real, d_fake)

    # -- the discriminator's halves ---------------------------------------------------------

    def _batches(self, real: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The ``d_steps_per_g`` real batches a step was given (one batch when it is 1)."""
        if self.d_steps_per_g == 1:
            return (real,)
        if real.shape[0] != self.batch_size * self.d_steps_per_g:
            raise ValueError(f"a step takes {self.d_steps_per_g} batches of {self.batch_size} "
                             f"real images, got {real.shape[0]}")
        return real.split(self.batch_size)

    def _label_batches(self, labels: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        if labels is None:
            return (None,) * self.d_steps_per_g
        return (labels,) if self.d_steps_per_g == 1 else labels.split(self.batch_size)

    def _d_loss(self, real: torch.Tensor, fake: torch.Tensor, real_logits: torch.Tensor,
                fake_logits: torch.Tensor) -> torch.Tensor:
        d_loss = self.loss.real(real_logits) + self.loss.fake(fake_logits)
        if self.penalty is not None:
            d_loss = d_loss + self.penalty(real, fake)
        return d_loss

    def _alternating_discriminator(self, real: torch.Tensor,
                                   labels: torch.Tensor | None = None) -> Metrics:
        with torch.no_grad():  # the fakes are constants for the D step (seed: G(z) detached)
            fake, fake_labels = self._g(self.batch_size)
        real_logits = self._d(real, labels)
        fake_logits = self._d(fake, fake_labels)
        d_loss = self._d_loss(real, fake, real_logits, fake_logits)
        self._step_discriminator(d_loss)
        return (d_loss.detach(), self.d_metric(real_logits), self.d_metric(fake_logits))

    def _combined_discriminator(self, real: torch.Tensor,
                                labels: torch.Tensor | None = None) -> Metrics:
        # generator.predict: inference mode (BN running statistics), no gradients.
        self.generator.eval()
        with torch.no_grad():
            fake, fake_labels = self._g(self.batch_size)
        self.generator.train()
        if self.d_batches == "concat":
            both = None if labels is None else torch.cat([labels, fake_labels])
            logits = self._d(torch.cat([real, fake]), both)
            real_logits, fake_logits = logits[: self.batch_size], logits[self.batch_size :]
            if self.loss.concat is not None:
                d_loss = self.loss.concat(logits, self.batch_size)
            else:  # the mean per-sample term over the 2B samples
                d_loss = 0.5 * (self.loss.real(real_logits) + self.loss.fake(fake_logits))
            if self.penalty is not None:
                d_loss = d_loss + self.penalty(real, fake)
            self._step_discriminator(d_loss)
        else:  # two train_on_batch calls: real, then fake, each its own update
            real_logits = self._d(real, labels)
            real_loss = self.loss.real(real_logits)
            if self.penalty is not None:  # a real-only penalty (the card checks that)
                real_loss = real_loss + self.penalty(real, fake)
            self._step_discriminator(real_loss)
            fake_logits = self._d(fake, fake_labels)
            fake_loss = self.loss.fake(fake_logits)
            self._step_discriminator(fake_loss)
            d_loss = (real_loss.detach() + fake_loss.detach()) / 2
        return (d_loss.detach(), self.d_metric(real_logits), self.d_metric(fake_logits))

    # -- the parts ------------------------------------------------------------------------

    def generator_step(self, frozen_d: bool = False) -> torch.Tensor:
        """Train G through D on fresh noise with flipped labels; D's weights are untouched.

        ``frozen_d`` is Keras' ``discriminator.trainable = False``: dropout stays active, but
        batch normalisation runs in inference mode (running statistics, none updated).
        """
        for norm in self.d_norms if frozen_d else ():
            norm.eval()
        fake, fake_labels = self._g(self.batch_size)
        logits = self._d(fake, fake_labels)
        for norm in self.d_norms if frozen_d else ():
            norm.train()
        g_loss = self.loss.generator(logits)
        self.g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward(inputs=self.g_params)
        self.sync_gradients(self.g_params)
        self.g_optimizer.step()
        return g_loss.detach()

    def _step_discriminator(self, loss: torch.Tensor) -> None:
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=self.d_params)
        self.sync_gradients(self.d_params)
        self.d_optimizer.step()


def penalty_term(penalty: Callable[..., torch.Tensor], discriminator: nn.Module, weight: float,
                 uniform: Callable[[int], torch.Tensor]) -> PenaltyTerm:
    """``(real, fake) -> penalty(discriminator, real, fake, weight, uniform)``.

    The penalty runs the module itself, never a compiled forward: torch.compile does not do
    the double backward a gradient penalty needs.
    """
    return lambda real, fake: penalty(discriminator, real, fake, weight, uniform)
