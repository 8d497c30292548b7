"""GAN losses and discriminator penalties by name: what a card's ``loss`` and ``penalty`` mean.

This module is backend-neutral (it imports no framework). It holds the *declarations*: each
loss's documentation and the properties card validation needs. The code that computes a loss
lives in each backend (``ganzoo_torch.losses``, ``ganzoo_keras.losses``), one implementation per
name; plugins add losses, penalties and implementations through the ``register_losses`` and
``register_penalties`` hooks (see docs/plugins.md). The registry is one :class:`Objectives`
object per catalog, handed to card parsing and carried by every :class:`~ganzoo.cards.Recipe`.

Conventions every implementation follows:

- A loss is a pair. The discriminator minimises ``real(D(x)) + fake(D(G(z)))``, each term a
  mean over its batch; the generator minimises ``generator(D(G(z)))``. ``D`` is the raw network
  output (a logit for ``output = "probability"`` losses, a critic score otherwise).
- ``d_real``/``d_fake`` (the metrics every step reports) are the mean of ``sigmoid(D(x))`` and
  ``sigmoid(D(G(z)))`` for ``"probability"`` losses, and the mean raw critic output ``D(x)``,
  ``D(G(z))`` for ``"score"`` losses (hinge, wasserstein), where no sigmoid is implied.
- The reported ``d_loss`` is what the discriminator minimised: its loss plus the weighted
  penalty, if any (the combined step with separate batches reports the mean of its two
  updates, as Keras' ``train_on_batch`` did).
- The combined step's ``d_batches = "concat"`` (one update on real and fakes concatenated,
  "labels" 1 then 0) minimises the mean per-sample term over the 2B samples, which is
  ``0.5 * (real + fake)``. Each built-in loss is such a labelled per-sample term, so every
  built-in loss works with every step kind and both batch styles; a plugin loss that is not
  declares ``concat=False`` (and may restrict ``steps``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ganzoo.errors import CardError, PluginError, UsageError

STEP_KINDS = ("simultaneous", "alternating", "combined")
OUTPUT_KINDS = ("probability", "score")


@dataclass(frozen=True)
class LossInfo:
    """A named loss: its documentation and what card validation needs to know about it.

    ``output``: ``"probability"`` when ``sigmoid(D)`` is the probability of "real" (then
    ``d_real``/``d_fake`` are mean probabilities), ``"score"`` for an unbounded critic (then they
    are the mean raw outputs). ``steps``: the step kinds it makes sense with. ``concat``: whether
    the discriminator loss is a mean of per-sample labelled terms, so the combined step's
    concatenated real+fake batch is meaningful.
    """

    name: str
    summary: str
    discriminator: str
    generator: str
    output: str = "probability"
    steps: tuple[str, ...] = STEP_KINDS
    concat: bool = True
    reference: str = ""
    origin: str = "ganzoo"


@dataclass(frozen=True)
class PenaltyInfo:
    """A named discriminator penalty, added (times ``weight``) to the discriminator's loss.

    ``uses_fake``: whether it needs real and generated samples in the same update (a gradient
    penalty on interpolates does; R1 needs only real ones). The combined step with separate
    batches adds a real-only penalty to its real update and cannot host one that uses fakes.
    ``batch_norm_ok``: whether the discriminator may hold batch normalisation. A penalty on
    per-sample input gradients may not: batch norm couples the samples (Gulrajani et al. use
    layer norm instead), and TensorFlow's batch-norm moments stop the gradient through the
    batch mean, so the penalty's second-order gradient would differ between the backends.
    """

    name: str
    summary: str
    formula: str
    uses_fake: bool = True
    reference: str = ""
    origin: str = "ganzoo"
    batch_norm_ok: bool = False


@dataclass(frozen=True)
class PenaltyChoice:
    """A recipe's ``penalty = { name = ..., weight = ... }``."""

    name: str
    weight: float


BUILTIN_LOSSES = (
    LossInfo(
        "bce_logits",
        "Binary cross-entropy on logits: the original (non-saturating) GAN of every seed.",
        "softplus(-D(x)) + softplus(D(G(z)))   (= BCE(D(x), 1) + BCE(D(G(z)), 0))",
        "softplus(-D(G(z)))   (= BCE(D(G(z)), 1), labels flipped)",
        reference="Goodfellow et al. 2014",
    ),
    LossInfo(
        "least_squares",
        "Least-squares GAN with Mao et al.'s 0-1 coding a=0 (fake), b=1 (real), c=1 (G's "
        "target); D's output is used raw, no sigmoid.",
        "0.5*(D(x) - 1)^2 + 0.5*D(G(z))^2",
        "0.5*(D(G(z)) - 1)^2",
        output="score",
        reference="Mao et al. 2017, eq. (2) with a=0, b=1, c=1",
    ),
    LossInfo(
        "hinge",
        "Hinge loss (geometric GAN / SNGAN / BigGAN).",
        "relu(1 - D(x)) + relu(1 + D(G(z)))",
        "-D(G(z))",
        output="score",
        reference="Lim & Ye 2017; Miyato et al. 2018",
    ),
    LossInfo(
        "wasserstein",
        "Wasserstein critic loss; needs a Lipschitz constraint: pair it with "
        "penalty = { name = \"gradient_penalty\", weight = 10 } (WGAN-GP) or spectral norm.",
        "D(G(z)) - D(x)",
        "-D(G(z))",
        output="score",
        reference="Arjovsky et al. 2017; Gulrajani et al. 2017",
    ),
)

BUILTIN_PENALTIES = (
    PenaltyInfo(
        "gradient_penalty",
        "WGAN-GP: unit gradient norm on random interpolates of real and generated samples "
        "(the interpolation weight eps ~ U[0, 1) drawn per sample).",
        "weight * mean((||grad_xhat D(xhat)||_2 - 1)^2),  xhat = eps*x + (1 - eps)*G(z)",
        uses_fake=True,
        reference="Gulrajani et al. 2017",
    ),
    PenaltyInfo(
        "r1",
        "R1: zero-centred gradient penalty on real samples.",
        "weight/2 * mean(||grad_x D(x)||_2^2)",
        uses_fake=False,
        reference="Mescheder et al. 2018",
    ),
)


@dataclass
class Objectives:
    """The losses and penalties cards may name, with their per-backend implementations.

    Built once per catalog (:meth:`builtin` plus what plugins register) and passed around; a
    backend's own implementations of the built-in names need no registration.
    Implementations are objects or lazy ``"module:attr"`` import paths, resolved on first use
    so that listing models never imports a framework.
    """

    losses: dict[str, LossInfo] = field(default_factory=dict)
    penalties: dict[str, PenaltyInfo] = field(default_factory=dict)
    implementations: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    @classmethod
    def builtin(cls) -> Objectives:
        """The built-in losses and penalties only."""
        return cls({i.name: i for i in BUILTIN_LOSSES}, {i.name: i for i in BUILTIN_PENALTIES})

    # -- look-ups ---------------------------------------------------------------------------

    def loss(self, name: str, where: str = "loss") -> LossInfo:
        """The loss called ``name``; a :class:`CardError` lists the registered ones."""
        if name not in self.losses:
            raise CardError(f"{where}: unknown loss '{name}' (registered: "
                            f"{', '.join(sorted(self.losses))}; plugins add more with the "
                            f"register_losses hook)")
        return self.losses[name]

    def penalty(self, name: str, where: str = "penalty") -> PenaltyInfo:
        """The penalty called ``name``; a :class:`CardError` lists the registered ones."""
        if name not in self.penalties:
            raise CardError(f"{where}: unknown penalty '{name}' (registered: "
                            f"{', '.join(sorted(self.penalties))}; plugins add more with the "
                            f"register_penalties hook)")
        return self.penalties[name]

    def implementation(self, kind: str, name: str, backend: str) -> Any | None:
        """The ``backend`` implementation a plugin registered for loss/penalty ``name``, or
        ``None``; a lazy import path is imported now (a :class:`PluginError` if it fails)."""
        key = (kind, name, backend)
        impl = self.implementations.get(key)
        if isinstance(impl, str):
            module, _, attr = impl.partition(":")
            try:
                impl = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"the {backend} implementation of {kind} '{name}' "
                                  f"('{self.implementations[key]}') cannot be loaded: {exc}"
                                  ) from exc
            self.implementations[key] = impl
        return impl

    def resolve(self, kind: str, name: str, backend: str, builtins: Mapping[str, Any]) -> Any:
        """The ``backend`` implementation of loss/penalty ``name``: the backend's built-in one,
        else the one a plugin registered; a clear error names the fix when there is none."""
        if name in builtins:
            return builtins[name]
        impl = self.implementation(kind, name, backend)
        if impl is None:
            raise UsageError(f"{kind} '{name}' has no {backend} implementation: the plugin that "
                             f"declares it must register one with backend=\"{backend}\"")
        return impl

    # -- the registrars the hooks receive ---------------------------------------------------

    def loss_registrar(self, plugin: str, note: Callable[[str], None] = lambda s: None
                       ) -> Callable[..., None]:
        """The ``register`` callable of ``register_losses`` for ``plugin``.

        ``register(name, *, summary=..., discriminator=..., generator=..., output=...,
        steps=..., concat=..., reference=...)`` declares a loss; ``register(name, backend=...,
        implementation=...)`` adds a backend's implementation. Both can go in one call.
        """

        def register(name: str, *, summary: str | None = None, discriminator: str = "",
                     generator: str = "", output: str = "probability",
                     steps: Iterable[str] = STEP_KINDS, concat: bool = True,
                     reference: str = "", backend: str | None = None,
                     implementation: Any = None) -> None:
            if summary is not None:
                if name in self.losses:
                    raise PluginError(f"loss '{name}' is already declared by "
                                      f"{self.losses[name].origin}")
                if output not in OUTPUT_KINDS:
                    raise PluginError(f"loss '{name}': output must be one of "
                                      f"{', '.join(OUTPUT_KINDS)}, not '{output}'")
                steps = tuple(steps)
                bad = [s for s in steps if s not in STEP_KINDS]
                if bad:
                    raise PluginError(f"loss '{name}': unknown step kinds {bad}")
                self.losses[name] = LossInfo(name, summary, discriminator, generator, output,
                                             steps, bool(concat), reference, f"plugin {plugin}")
                note(f"loss {name}")
            self._add_implementation("loss", name, backend, implementation, self.losses)
            if backend is not None:
                note(f"loss {name} ({backend})")

        return register

    def penalty_registrar(self, plugin: str, note: Callable[[str], None] = lambda s: None
                          ) -> Callable[..., None]:
        """The ``register`` callable of ``register_penalties`` for ``plugin``: ``register(name,
        *, summary=..., formula=..., uses_fake=..., batch_norm_ok=..., reference=...,
        backend=..., implementation=...)``, as for losses."""

        def register(name: str, *, summary: str | None = None, formula: str = "",
                     uses_fake: bool = True, batch_norm_ok: bool = False, reference: str = "",
                     backend: str | None = None, implementation: Any = None) -> None:
            if summary is not None:
                if name in self.penalties:
                    raise PluginError(f"penalty '{name}' is already declared by "
                                      f"{self.penalties[name].origin}")
                self.penalties[name] = PenaltyInfo(name, summary, formula, bool(uses_fake),
                                                   reference, f"plugin {plugin}",
                                                   bool(batch_norm_ok))
                note(f"penalty {name}")
            self._add_implementation("penalty", name, backend, implementation, self.penalties)
            if backend is not None:
                note(f"penalty {name} ({backend})")

        return register

    def _add_implementation(self, kind: str, name: str, backend: str | None, impl: Any,
                            declared: dict[str, Any]) -> None:
        if (backend is None) != (impl is None):
            raise PluginError(f"{kind} '{name}': give both backend= and implementation=")
        if backend is None:
            return
        if name not in declared:
            raise PluginError(f"{kind} '{name}' has an implementation for {backend} but no "
                              f"declaration: pass summary=... (and the formulas) first")
        key = (kind, name, backend)
        if key in self.implementations:
            raise PluginError(f"{kind} '{name}' already has a {backend} implementation")
        self.implementations[key] = impl


def check_recipe_objectives(info: LossInfo, penalty: PenaltyInfo | None, step: str,
                            d_batches: str, d_steps_per_g: int, where: str,
                            discriminator_layers: Iterable[str] = ()) -> None:
    """Whether a recipe's loss, penalty and schedule make sense with its step kind (and its
    penalty with the discriminator's layer kinds)."""
    if step not in info.steps:
        raise CardError(f"{where}.loss: loss '{info.name}' does not work with step = "
                        f"\"{step}\" (it supports: {', '.join(info.steps)})")
    if step == "combined" and d_batches == "concat" and not info.concat:
        raise CardError(f"{where}.d_batches: loss '{info.name}' is not a per-sample labelled "
                        f"loss, so a concatenated real+fake batch means nothing; use "
                        f"d_batches = \"separate\"")
    if penalty is not None and penalty.uses_fake and step == "combined" \
            and d_batches == "separate":
        raise CardError(f"{where}.penalty: '{penalty.name}' needs real and generated samples "
                        f"in one update, but the combined step with d_batches = \"separate\" "
                        f"updates on them apart; use d_batches = \"concat\" or step = "
                        f"\"alternating\"")
    if penalty is not None and not penalty.batch_norm_ok \
            and "batch_norm" in tuple(discriminator_layers):
        raise CardError(f"{where}.penalty: '{penalty.name}' penalises per-sample gradients, "
                        f"which batch normalisation in the discriminator couples across the "
                        f"batch; remove the discriminator's batch_norm layers (WGAN-GP uses "
                        f"layer normalisation or none)")
    if d_steps_per_g > 1 and step == "simultaneous":
        raise CardError(f"{where}.d_steps_per_g: the simultaneous step updates both networks "
                        f"from one forward pass, so it cannot take {d_steps_per_g} "
                        f"discriminator steps per generator step; use step = \"alternating\"")
