"""One training step in each of the three styles a card's ``recipe.step`` names.

Every step returns ``(d_loss, g_loss, d_real, d_fake)`` as detached 0-d tensors that stay on
the device; the trainer sums them and reads them back once per ``run_steps`` call.

Gradients go only where they are wanted through ``backward(inputs=...)``: the generator's loss
reaches the generator's parameters through the discriminator without computing (or touching)
the discriminator's gradients. That is the "frozen discriminator" of the Keras combined model
and the separate tapes of the TensorFlow step, without toggling ``requires_grad`` every step
(which would also make a compiled discriminator retrace).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Metrics = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # The seeds' final sigmoid is folded into the loss; float32 even under bf16 autocast.
    return F.binary_cross_entropy_with_logits(logits.float(), target)


def _mean_prob(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits.detach().float()).mean()


class GanSteps:
    """The step functions over one generator/discriminator pair and their optimisers.

    ``g_forward``/``d_forward`` are the networks' forward callables (possibly compiled);
    ``generator``/``discriminator`` are the modules themselves, for modes and parameters.
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
        # Label tensors made once, not per step.
        self.ones = torch.ones(batch_size, 1, device=device)
        self.zeros = torch.zeros(batch_size, 1, device=device)
        self.real_then_fake = torch.cat([self.ones, self.zeros])

    def by_name(self, step: str) -> Callable[[torch.Tensor], Metrics]:
        """The step function a recipe names (simultaneous, alternating or combined)."""
        steps = {"simultaneous": self.simultaneous, "alternating": self.alternating,
                 "combined": self.combined}
        if step not in steps:
            raise ValueError(f"unknown step '{step}' (expected one of {', '.join(steps)})")
        return steps[step]

    # -- the three styles -----------------------------------------------------------------

    def simultaneous(self, real: torch.Tensor) -> Metrics:
        """Seed 000 (tf.GradientTape): one forward, both losses, both optimisers step."""
        fake = self.g_forward(self.noise(self.batch_size))
        real_logits = self.d_forward(real)
        fake_logits = self.d_forward(fake)
        d_loss = _bce(real_logits, self.ones) + _bce(fake_logits, self.zeros)
        g_loss = _bce(fake_logits, self.ones)
        self.g_optimizer.zero_grad(set_to_none=True)
        self.d_optimizer.zero_grad(set_to_none=True)
        # Both gradients come from the same forward; the graph is kept for the second one.
        g_loss.backward(inputs=self.g_params, retain_graph=True)
        d_loss.backward(inputs=self.d_params)
        self.sync_gradients(self.g_params)
        self.sync_gradients(self.d_params)
        self.g_optimizer.step()
        self.d_optimizer.step()
        return (d_loss.detach(), g_loss.detach(), _mean_prob(real_logits),
                _mean_prob(fake_logits))

    def alternating(self, real: torch.Tensor) -> Metrics:
        """Seed 004 (PyTorch): a discriminator step, then a generator step on fresh noise."""
        with torch.no_grad():  # the fakes are constants for the D step (seed: G(z) detached)
            fake = self.g_forward(self.noise(self.batch_size))
        real_logits = self.d_forward(real)
        fake_logits = self.d_forward(fake)
        d_loss = _bce(real_logits, self.ones) + _bce(fake_logits, self.zeros)
        self._step_discriminator(d_loss)
        g_loss = self.generator_step()
        return (d_loss.detach(), g_loss, _mean_prob(real_logits), _mean_prob(fake_logits))

    def combined(self, real: torch.Tensor) -> Metrics:
        """Seeds 001-003 (Keras combined model): D on predicted fakes, then G through frozen D."""
        # generator.predict: inference mode (BN running statistics), no gradients.
        self.generator.eval()
        with torch.no_grad():
            fake = self.g_forward(self.noise(self.batch_size))
        self.generator.train()
        if self.d_batches == "concat":
            logits = self.d_forward(torch.cat([real, fake]))
            d_loss = _bce(logits, self.real_then_fake)
            self._step_discriminator(d_loss)
            real_logits, fake_logits = logits[: self.batch_size], logits[self.batch_size :]
        else:  # two train_on_batch calls: real, then fake, each its own update
            real_logits = self.d_forward(real)
            real_loss = _bce(real_logits, self.ones)
            self._step_discriminator(real_loss)
            fake_logits = self.d_forward(fake)
            fake_loss = _bce(fake_logits, self.zeros)
            self._step_discriminator(fake_loss)
            d_loss = (real_loss.detach() + fake_loss.detach()) / 2
        g_loss = self.generator_step(frozen_d=True)
        return (d_loss.detach(), g_loss, _mean_prob(real_logits), _mean_prob(fake_logits))

    # -- the parts ------------------------------------------------------------------------

    def generator_step(self, frozen_d: bool = False) -> torch.Tensor:
        """Train G through D on fresh noise with flipped labels; D's weights are untouched.

        ``frozen_d`` is Keras' ``discriminator.trainable = False``: dropout stays active, but
        batch normalisation runs in inference mode (running statistics, none updated).
        """
        for norm in self.d_norms if frozen_d else ():
            norm.eval()
        logits = self.d_forward(self.g_forward(self.noise(self.batch_size)))
        for norm in self.d_norms if frozen_d else ():
            norm.train()
        g_loss = _bce(logits, self.ones)
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
