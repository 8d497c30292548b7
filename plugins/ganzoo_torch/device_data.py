"""Where training runs and what it draws: the device, the batch order and the noise.

Everything a step consumes is drawn on the training device from seeded ``torch.Generator``s,
so a step never waits on the host, and a resumed run regenerates the same batches.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np
import torch

from ganzoo.devices import parse_device
from ganzoo.errors import UsageError


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name`` (:func:`ganzoo.devices.parse_device`'s vocabulary):
    ``auto`` is CUDA when available, else the CPU; asking for a missing GPU is an error."""
    asked = parse_device(name)
    if asked.kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if asked.kind == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count <= (asked.index or 0):
        raise UsageError(f"--device {asked} was asked for, but torch sees {count} CUDA "
                         "device(s); use --device cpu or auto")
    return torch.device("cuda", asked.index)


def use_cores(count: int | None = None) -> None:
    """Let torch use ``count`` threads; by default ``OMP_NUM_THREADS`` where the user set it
    (on a machine shared with other jobs one thread can be several times faster than two:
    benchmarks/README.md), else every core this process may run on."""
    if count is None and os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():
        count = int(os.environ["OMP_NUM_THREADS"])
    if count is None:
        try:
            count = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            count = os.cpu_count() or 1
    torch.set_num_threads(max(1, int(count)))


def _mixed_seed(*parts: int) -> int:
    """A 63-bit seed from several integers, well mixed (nearby inputs give unrelated streams)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0]
               >> np.uint64(1))


def epoch_permutation(n: int, seed: int, epoch: int, device: torch.device) -> torch.Tensor:
    """The order of the images in ``epoch``: a function of (seed, epoch) alone, so resumable."""
    generator = torch.Generator(device=device)
    generator.manual_seed(_mixed_seed(seed, epoch, 0x5EED))
    return torch.randperm(n, generator=generator, device=device)


class NoiseSampler:
    """Latent batches, ``normal`` N(0, 1) or ``uniform`` U(-1, 1), from a seeded generator."""

    def __init__(self, kind: str, latent_dim: int, seed: int, device: torch.device):
        if kind not in ("normal", "uniform"):
            raise ValueError(f"unknown noise kind '{kind}'")
        self.kind = kind
        self.latent_dim = latent_dim
        self.device = device
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(_mixed_seed(seed, 0x4015E))

    def __call__(self, n: int) -> torch.Tensor:
        z = torch.empty(n, self.latent_dim, device=self.device)
        if self.kind == "normal":
            return z.normal_(generator=self.generator)
        return z.uniform_(-1.0, 1.0, generator=self.generator)

    def get_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


class LabelSampler:
    """Class labels for generated images, uniform over ``classes``, from a seeded generator."""

    def __init__(self, classes: int, seed: int, device: torch.device):
        self.classes = int(classes)
        self.device = device
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(_mixed_seed(seed, 0x1ABE1))

    def __call__(self, n: int) -> torch.Tensor:
        return torch.randint(0, self.classes, (n,), generator=self.generator,
                             device=self.device)

    def get_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


class PrivateRandomState:
    """The trainer's own copy of torch's global generators, which dropout draws from.

    Steps run with this state swapped in (``with rng.active():``) and swapped out after, so
    whatever else the process draws between ``run_steps`` calls (another model, a metric)
    cannot shift a run, and creating a trainer does not reseed the caller's stream.
    """

    def __init__(self, seed: int, device: torch.device):
        self.cuda_device = device if device.type == "cuda" else None
        self._devices = [_cuda_index(device)] if self.cuda_device is not None else []
        with torch.random.fork_rng(devices=self._devices):
            # torch.manual_seed, limited to the devices this trainer uses.
            torch.default_generator.manual_seed(seed)
            if self.cuda_device is not None:
                with torch.cuda.device(self.cuda_device):
                    torch.cuda.manual_seed(seed)
            self._save()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        with torch.random.fork_rng(devices=self._devices):
            torch.set_rng_state(self.cpu)
            if self.cuda_device is not None:
                torch.cuda.set_rng_state(self.cuda, self.cuda_device)
            try:
                yield
            finally:
                self._save()

    def _save(self) -> None:
        self.cpu = torch.get_rng_state()
        if self.cuda_device is not None:
            self.cuda = torch.cuda.get_rng_state(self.cuda_device)

    def state(self) -> dict[str, torch.Tensor]:
        out = {"torch_cpu": self.cpu}
        if self.cuda_device is not None:
            out["torch_cuda"] = self.cuda
        return out

    def load(self, state: dict[str, torch.Tensor]) -> None:
        if "torch_cpu" in state:
            self.cpu = state["torch_cpu"].clone()
        if "torch_cuda" in state and self.cuda_device is not None:
            self.cuda = state["torch_cuda"].clone()


def _cuda_index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()
