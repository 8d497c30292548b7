"""What a torch training run consumes: the images as one device tensor, and the batch order,
noise and labels it draws.

Pixels become ``(x - 127.5) / 127.5`` (0 -> -1, 255 -> 1), the seeds' formula; the
subtraction is exact in float32, so only the division rounds. The uint8 array crosses to the
device as is, a quarter of the bytes of float32, and is converted there; the trainer then
slices batches out of the device tensor, so the hot path makes no host-to-device copies.

Everything a step consumes is drawn on the training device from seeded ``torch.Generator``s,
so a step never waits on the host, and a resumed run regenerates the same batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ganzoo.data.adapters import as_nhwc_uint8


def to_torch(images: np.ndarray, device: Any = "cpu") -> torch.Tensor:
    """(N, H, W[, C]) uint8 -> float32 (N, C, H, W) in [-1, 1] on ``device``, in one transfer."""
    raw = torch.from_numpy(as_nhwc_uint8(images)).to(device)
    # NHWC -> NCHW while still uint8 (cheap), then convert in place on the device.
    nchw = raw.permute(0, 3, 1, 2).contiguous()
    return nchw.to(torch.float32).sub_(127.5).div_(127.5)


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
