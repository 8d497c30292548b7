"""The seams between the backend-neutral core and the backends.

The core talks only to these protocols and value types. Arrays crossing the seam are numpy:
images are NHWC float32 in [-1, 1] (or uint8 for datasets), latent batches are (N, latent_dim)
float32, and weights are ``dict[str, np.ndarray]`` under the canonical names of
:mod:`ganzoo.architecture` (layout in docs/weights.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from ganzoo.cards import Recipe

Arrays = dict[str, "np.ndarray"]
# The metrics every Trainer.run_steps returns, in this order (see Trainer.run_steps).
METRIC_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


@runtime_checkable
class Dataset(Protocol):
    """A split of an image dataset, loaded in memory."""

    name: str
    split: str
    images: np.ndarray  # (N, H, W) or (N, H, W, C) uint8
    labels: np.ndarray | None  # (N,) uint8, kept for class-coverage metrics

    def __len__(self) -> int: ...


@runtime_checkable
class Generator(Protocol):
    """A trained generator, in evaluation mode."""

    latent_dim: int

    def generate(self, noise: np.ndarray) -> np.ndarray:
        """Map (N, latent_dim) float32 noise to (N, H, W, C) float32 images in [-1, 1]."""
        ...


@runtime_checkable
class Discriminator(Protocol):
    """A trained discriminator, in evaluation mode."""

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Map (N, H, W, C) float32 images in [-1, 1] to (N,) float32 logits (real > 0)."""
        ...


@runtime_checkable
class Trainer(Protocol):
    """The backend's part of training: networks, one step, and state. The loop is the core's.

    Two optional methods serve multi-process training: ``any_rank(flag) -> bool`` (the ranks
    agree on stopping) and ``close()`` (called once after the loop ends normally, to leave the
    process group).
    """

    steps_per_epoch: int

    def run_steps(self, epoch: int, start: int, count: int) -> dict[str, float]:
        """Run ``count`` steps of ``epoch`` from step ``start``; return their mean metrics.

        Keys (:data:`METRIC_KEYS`): ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (mean
        discriminator probabilities on real and generated images). Reading metrics back once
        per call, not per step, keeps host syncs off the hot path.
        """
        ...

    def sample(self, noise: np.ndarray) -> np.ndarray:
        """Generate images from ``noise`` in evaluation mode (NHWC float32 in [-1, 1])."""
        ...

    def weights(self) -> Arrays:
        """Generator and discriminator weights under canonical names (``generator.0.weight``)."""
        ...

    def state(self) -> Arrays:
        """Everything needed to resume exactly: weights, optimiser slots, random states."""
        ...

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned."""
        ...


@dataclass(frozen=True)
class Capabilities:
    """What a backend supports beyond one CPU process; the core refuses the rest before it
    launches anything (:func:`ganzoo.launching.check_supported`).

    A backend without a ``capabilities`` attribute gets ``Capabilities()``: one process on the
    CPU, no mixed precision, no compilation.
    """

    multi_device: bool = False  # --devices N > 1 (the backend's launch() makes it happen)
    cuda: bool = False  # --device cuda
    amp: bool = False  # --amp
    compile: bool = False  # --compile

    def supported(self) -> list[str]:
        """The names of what is supported, for messages."""
        return [name for name, on in asdict(self).items() if on]


class Backend(Protocol):
    """What a plugin supplies for a family on one framework (torch, keras, ...).

    Optional members, read by the core with defaults when absent:

    - ``capabilities: Capabilities`` (default ``Capabilities()``);
    - ``launch(devices, argv) -> int | None``: run ``ganzoo argv`` on ``devices`` devices.
      ``None``: nothing launched, this process trains on all of them itself (Keras'
      MirroredStrategy); an int: the exit code of the processes it launched (torchrun);
    - ``rank() -> int | None``: this process's rank in a world the launcher started (``None``
      when it was not started by one). Only rank 0 writes and registers.
    """

    def summary(self, recipe: Recipe) -> list[LayerRow]:
        """A layer-by-layer summary of both networks, built by the framework itself."""
        ...

    def create_trainer(
        self, recipe: Recipe, config: TrainConfig, images: np.ndarray
    ) -> Trainer:
        """Build networks and optimisers and place ``images`` (N, H, W, C uint8) on the device."""
        ...

    def load_generator(self, recipe: Recipe, weights: Mapping[str, np.ndarray]) -> Generator:
        """A generator in evaluation mode with canonical ``generator.*`` weights loaded."""
        ...

    def load_discriminator(
        self, recipe: Recipe, weights: Mapping[str, np.ndarray]
    ) -> Discriminator:
        """A discriminator in evaluation mode with canonical ``discriminator.*`` weights."""
        ...


@dataclass(frozen=True)
class LayerRow:
    """One row of a framework-built summary."""

    network: str  # "generator" or "discriminator"
    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    trainable: int
    non_trainable: int


@dataclass(frozen=True)
class TrainConfig:
    """What the user asked of one training run (recipe values already applied)."""

    model_id: str
    recipe: str
    dataset: str
    split: str = "train"
    epochs: int = 1
    batch_size: int = 128
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N (ganzoo.devices)
    amp: bool = False  # bf16 autocast (torch) / mixed_bfloat16 policy (keras)
    compile: bool = False  # torch.compile / XLA jit_compile
    log_every: int = 20  # steps between metric read-backs
    max_steps: int | None = None  # stop each epoch after this many steps (tiny test runs)
    devices: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TrainConfig:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)
