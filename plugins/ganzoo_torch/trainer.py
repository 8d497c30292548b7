"""The one torch trainer for every family: networks and optimisers from the recipe, the step
style the recipe names, on-device batches, and exact save/restore of everything it holds."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping

import numpy as np
import torch

from ganzoo.cards import Recipe
from ganzoo.conditioning import training_labels
from ganzoo.errors import UsageError
from ganzoo.protocols import METRIC_KEYS, TrainConfig
from ganzoo.training.config import epoch_steps
from ganzoo_torch.builder import build_network, image_layout, speed_up_for
from ganzoo_torch.canonical import canonical_weights, load_canonical_weights
from ganzoo_torch.data import (
    LabelSampler,
    NoiseSampler,
    PrivateRandomState,
    epoch_permutation,
    to_torch,
)
from ganzoo_torch.distributed import join_world
from ganzoo_torch.losses import loss_for, penalty_for, reports_probabilities
from ganzoo_torch.optimizers import load_optimizer_state, make_optimizer, optimizer_state
from ganzoo_torch.runtime import resolve_device, to_nhwc_numpy, use_cores
from ganzoo_torch.steps import GanSteps, penalty_term


class TorchTrainer:
    """Implements :class:`ganzoo.protocols.Trainer` for any card on torch.

    ``config.extra["torch_threads"]`` overrides the CPU thread count (default: every core).

    One step is one generator update; with ``recipe.d_steps_per_g = k`` it first makes k
    discriminator updates, each on its own batch, so a step consumes k batches and an epoch
    (one pass over the images) has ``len(images) // (batch_size * k)`` steps; ``max_steps``
    caps those steps (generator updates).
    """

    def __init__(self, recipe: Recipe, config: TrainConfig, images: np.ndarray,
                 labels: np.ndarray | None = None):
        self.recipe = recipe
        self.config = config
        self.device = resolve_device(config.device)
        self.world = join_world(self.device.type)
        if self.world.distributed and self.device.type == "cuda":
            self.device = torch.device("cuda", self.world.local_rank)
            torch.cuda.set_device(self.device)
        if self.device.type == "cpu":
            threads = (config.extra or {}).get("torch_threads")
            if threads is None and self.world.distributed:
                threads = max(1, (os.cpu_count() or 1) // self.world.size)
            use_cores(threads)
        else:
            torch.backends.cudnn.benchmark = True  # shapes never change within a run
        # Initialisation and dropout draw from torch's global generators, seeded with
        # config.seed but kept private to this trainer (see PrivateRandomState).
        self.rng = PrivateRandomState(config.seed, self.device)
        with self.rng.active():
            self.generator = speed_up_for(build_network(recipe.generator).to(self.device),
                                          self.device)
            self.discriminator = speed_up_for(
                build_network(recipe.discriminator).to(self.device), self.device)
        # Once; batches are sliced on the device.
        self.images = image_layout(to_torch(images, self.device), self.device)
        height, width, channels = recipe.image_shape
        if tuple(self.images.shape[1:]) != (channels, height, width):
            raise UsageError(f"images are {tuple(images.shape[1:])}, but {recipe.name} makes "
                             f"{tuple(recipe.image_shape)}")
        # A conditional recipe's class labels, on the device like the images.
        checked = training_labels(recipe, labels, len(self.images))
        self.labels = None if checked is None else torch.as_tensor(checked, device=self.device)
        self.batch_size = int(config.batch_size)  # the global batch, over every rank
        self.batches_per_step = recipe.d_steps_per_g
        # The last partial step's batches are dropped; the batch size is checked in the core.
        self.steps_per_epoch = epoch_steps(len(self.images), self.batch_size,
                                           self.batches_per_step, replicas=self.world.size,
                                           max_steps=config.max_steps)
        self.rank_batch = self.batch_size // self.world.size
        # Each rank draws its own noise; rank 0's stream is the single-process one.
        self.noise = NoiseSampler(recipe.noise, recipe.latent_dim,
                                  config.seed + 1_000_003 * self.world.rank, self.device)
        self.fake_labels = None if self.labels is None else LabelSampler(
            recipe.classes, config.seed + 1_000_003 * self.world.rank, self.device)
        self.optimizers = {
            name: make_optimizer(recipe.optimizers[name], net.parameters())
            for name, net in self.networks.items()
        }
        penalty = penalty_for(recipe)
        g_forward, d_forward = self.generator, self.discriminator
        if config.compile:
            g_forward, d_forward = _compiled(self.generator), _compiled(self.discriminator)
        self.steps = GanSteps(
            self.generator, self.discriminator,
            self.optimizers["generator"], self.optimizers["discriminator"],
            self.noise, self.rank_batch, self.device, recipe.d_batches,
            g_forward=g_forward, d_forward=d_forward,
            sync_gradients=self.world.average_gradients if self.world.distributed else None,
            loss=loss_for(recipe), probabilities=reports_probabilities(recipe),
            # Interpolation weights from torch's global generator (private, seeded, saved).
            penalty=None if penalty is None else penalty_term(
                penalty, self.discriminator, recipe.penalty.weight,
                lambda n: torch.rand(n, device=self.device)),
            d_steps_per_g=recipe.d_steps_per_g,
            fake_labels=self.fake_labels,
        )
        self._step = self.steps.by_name(recipe.step)
        # Floating-point buffers (batch-norm statistics) that rank 0 broadcasts every step.
        self._buffers = [b for net in self.networks.values() for b in net.buffers()
                         if b.is_floating_point()] if self.world.distributed else []
        self._permutation: tuple[int, torch.Tensor] | None = None

    @property
    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    # -- training ---------------------------------------------------------------------------

    def run_steps(self, epoch: int, start: int, count: int) -> dict[str, float]:
        """Run steps ``start .. start + count - 1`` of ``epoch``; mean metrics over them."""
        if count < 1 or start < 0 or start + count > self.steps_per_epoch:
            raise ValueError(f"steps {start}..{start + count - 1} are outside the epoch's "
                             f"{self.steps_per_epoch} steps")
        order = self._epoch_order(epoch)
        batch, mine, k = self.batch_size, self.rank_batch, self.batches_per_step
        offset = self.world.rank * mine  # this rank's slice of each global batch
        sums = torch.zeros(len(METRIC_KEYS), device=self.device)
        with self.rng.active(), self._autocast():
            for i in range(start, start + count):
                if k == 1:
                    first = i * batch + offset
                    index = order[first : first + mine]
                else:  # batches i*k .. i*k+k-1, this rank's slice of each
                    index = torch.cat([order[(i * k + j) * batch + offset:][:mine]
                                       for j in range(k)])
                real = self.images.index_select(0, index)
                self.world.broadcast_buffers(self._buffers)
                if self.labels is None:
                    sums += torch.stack(self._step(real))
                else:
                    sums += torch.stack(self._step(real, self.labels.index_select(0, index)))
        self.world.broadcast_buffers(self._buffers)  # every rank ends the chunk identical
        means = self.world.average(sums / count)
        return dict(zip(METRIC_KEYS, means.tolist(), strict=True))  # the one host sync

    def any_rank(self, flag: bool) -> bool:
        """Whether ``flag`` is set on any rank (the training shell's stop agreement)."""
        return self.world.any(flag, self.device)

    def close(self) -> None:
        """Release what training held across processes (the process group of a torchrun run)."""
        self.world.leave()

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        if self._permutation is None or self._permutation[0] != epoch:
            order = epoch_permutation(len(self.images), self.config.seed, epoch, self.device)
            self._permutation = (epoch, order)
        return self._permutation[1]

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.config.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    # -- outputs ----------------------------------------------------------------------------

    def sample(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Images from ``noise`` (and, conditional, ``labels``) with G in evaluation mode
        (NHWC float32 in [-1, 1])."""
        self.generator.eval()
        try:
            with torch.no_grad():
                z = torch.as_tensor(np.asarray(noise, dtype=np.float32), device=self.device)
                if self.labels is None:
                    return to_nhwc_numpy(self.generator(z))
                if labels is None:
                    raise ValueError("a conditional generator samples (noise, labels)")
                y = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=self.device)
                return to_nhwc_numpy(self.generator(z, y))
        finally:
            self.generator.train()

    def weights(self) -> dict[str, np.ndarray]:
        """Both networks under canonical names, BN running statistics included."""
        out: dict[str, np.ndarray] = {}
        for name, net in self.networks.items():
            out.update(canonical_weights(net, name))
        return out

    def state(self) -> dict[str, np.ndarray]:
        """Weights, optimiser slots and random states: enough to resume bit for bit."""
        out = self.weights()
        for name, optimizer in self.optimizers.items():
            out.update(optimizer_state(optimizer, name))
        for name, value in self.rng.state().items():
            out[f"rng.{name}"] = value.numpy().copy()
        # Generator states are device-specific (CPU: Mersenne Twister, CUDA: Philox), so the
        # key says which; a run resumed on the other device keeps its fresh noise stream.
        out[f"rng.noise.{self.device.type}"] = self.noise.get_state().numpy().copy()
        if self.fake_labels is not None:
            out[f"rng.labels.{self.device.type}"] = self.fake_labels.get_state().numpy().copy()
        return out

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned (a state without optimiser slots starts fresh)."""
        for name, net in self.networks.items():
            load_canonical_weights(net, getattr(self.recipe, name), name, state)
        for name, optimizer in self.optimizers.items():
            load_optimizer_state(optimizer, name, state)
        self.rng.load({key[len("rng."):]: _byte_tensor(value) for key, value in state.items()
                       if key in ("rng.torch_cpu", "rng.torch_cuda")})
        noise_key = f"rng.noise.{self.device.type}"
        if noise_key in state:
            self.noise.set_state(_byte_tensor(state[noise_key]))
        labels_key = f"rng.labels.{self.device.type}"
        if self.fake_labels is not None and labels_key in state:
            self.fake_labels.set_state(_byte_tensor(state[labels_key]))


def _compiled(net: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``net``'s forward through torch.compile; the module itself stays as it is.

    Each network compiles a few variants (train/eval, with/without grad, batch sizes), and
    every compiled module shares one code object and so one recompile budget: a process
    that builds several trainers would exhaust dynamo's default of 8 and fall back to eager.
    """
    import torch._dynamo

    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    return torch.compile(net, dynamic=False)


def _byte_tensor(value: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(value, dtype=np.uint8))
