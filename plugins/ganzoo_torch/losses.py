"""The torch implementations of the named losses and penalties (documented in ganzoo.losses).

A loss is three functions of the discriminator's raw output, each a mean over the batch:
``real(D(x))`` and ``fake(D(G(z)))`` (the discriminator minimises their sum) and
``generator(D(G(z)))``. Everything is computed in float32, even under bf16 autocast.

A penalty is a callable ``(discriminator, real, fake, weight, uniform) -> weighted penalty``
that runs its own discriminator forward; ``uniform(n)`` draws n numbers in [0, 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganzoo.cards import Recipe

BACKEND = "torch"
Fn = Callable[[torch.Tensor], torch.Tensor]
Penalty = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Loss:
    """One loss for the steps. ``concat(out, batch)``, when given, is the exact loss of the
    combined step's concatenated batch (real first); otherwise ``0.5 * (real + fake)``."""

    real: Fn
    fake: Fn
    generator: Fn
    concat: Callable[[torch.Tensor, int], torch.Tensor] | None = None


def bce_logits(logits: torch.Tensor, label: float) -> torch.Tensor:
    """Mean binary cross-entropy of ``logits`` against a constant label (from logits)."""
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def _bce_concat(logits: torch.Tensor, batch: int) -> torch.Tensor:
    logits = logits.float()
    target = torch.cat([torch.ones_like(logits[:batch]), torch.zeros_like(logits[batch:])])
    return F.binary_cross_entropy_with_logits(logits, target)


BCE_LOGITS = Loss(
    real=lambda out: bce_logits(out, 1.0),
    fake=lambda out: bce_logits(out, 0.0),
    generator=lambda out: bce_logits(out, 1.0),
    concat=_bce_concat,
)
LEAST_SQUARES = Loss(
    real=lambda out: 0.5 * (out.float() - 1.0).square().mean(),
    fake=lambda out: 0.5 * out.float().square().mean(),
    generator=lambda out: 0.5 * (out.float() - 1.0).square().mean(),
)
HINGE = Loss(
    real=lambda out: F.relu(1.0 - out.float()).mean(),
    fake=lambda out: F.relu(1.0 + out.float()).mean(),
    generator=lambda out: -out.float().mean(),
)
WASSERSTEIN = Loss(
    real=lambda out: -out.float().mean(),
    fake=lambda out: out.float().mean(),
    generator=lambda out: -out.float().mean(),
)


def _input_gradient(discriminator: Callable, x: torch.Tensor) -> torch.Tensor:
    """d sum(D(x)) / dx per sample, flattened, kept differentiable (double backward)."""
    x = x.detach().requires_grad_(True)
    out = discriminator(x).float()
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.float().flatten(1)


def gradient_penalty(discriminator: Callable, real: torch.Tensor, fake: torch.Tensor,
                     weight: float, uniform: Callable[[int], torch.Tensor]) -> torch.Tensor:
    """WGAN-GP: ``weight * mean((||grad D(xhat)||_2 - 1)^2)``, xhat = eps*x + (1-eps)*G(z)."""
    eps = uniform(real.shape[0]).to(real.dtype).view(-1, *([1] * (real.dim() - 1)))
    xhat = eps * real.detach() + (1.0 - eps) * fake.detach()
    norm = _input_gradient(discriminator, xhat).norm(2, dim=1)
    return weight * (norm - 1.0).square().mean()


def r1(discriminator: Callable, real: torch.Tensor, fake: torch.Tensor, weight: float,
       uniform: Callable[[int], torch.Tensor]) -> torch.Tensor:
    """R1: ``weight / 2 * mean(||grad_x D(x)||_2^2)`` on the real batch."""
    return weight / 2 * _input_gradient(discriminator, real).square().sum(1).mean()


LOSSES: dict[str, Loss] = {"bce_logits": BCE_LOGITS, "least_squares": LEAST_SQUARES,
                           "hinge": HINGE, "wasserstein": WASSERSTEIN}
PENALTIES: dict[str, Penalty] = {"gradient_penalty": gradient_penalty, "r1": r1}


def loss_for(recipe: Recipe) -> Loss:
    """The torch implementation of ``recipe.loss`` (built in, else registered by a plugin)."""
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
    """The torch implementation of ``recipe.penalty``, or None when the recipe has none."""
    if recipe.penalty is None:
        return None
    return recipe.objectives.resolve("penalty", recipe.penalty.name, BACKEND, PENALTIES)
