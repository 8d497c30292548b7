"""A tiny numpy backend for testing the core training shell without a framework.

Its "training" is a deterministic function of (seed, epoch, step), so resuming from any step
must reproduce an uninterrupted run exactly, as a real backend's must.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ganzoo.hookspecs import hookimpl


class FakeTrainer:
    def __init__(self, recipe: Any, config: Any, images: np.ndarray) -> None:
        self.config = config
        self.images = images.astype(np.float32) / 127.5 - 1.0
        self.latent = recipe.latent_dim
        self.steps_per_epoch = len(images) // config.batch_size
        if config.max_steps:
            self.steps_per_epoch = min(self.steps_per_epoch, config.max_steps)
        rng = np.random.default_rng(config.seed)
        self.w = rng.standard_normal((self.latent, 28 * 28)).astype(np.float32) * 0.05
        self.d = np.zeros(28 * 28, dtype=np.float32)
        self.extra = config.extra or {}

    def _perm(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.config.seed, epoch]).permutation(len(self.images))

    def run_steps(self, epoch: int, start: int, count: int) -> dict[str, float]:
        perm = self._perm(epoch)
        b = self.config.batch_size
        out = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0}
        for step in range(start, start + count):
            if self.extra.get("sleep"):
                time.sleep(self.extra["sleep"])
            batch = self.images[perm[step * b:(step + 1) * b]].reshape(b, -1)
            rng = np.random.default_rng([self.config.seed, epoch, step])
            self.w += 0.01 * rng.standard_normal(self.w.shape).astype(np.float32)
            self.d += 0.01 * (batch.mean(axis=0) - self.d)
            out["d_loss"] += float(np.abs(self.d).mean())
            out["g_loss"] += float(np.abs(self.w).mean())
            out["d_real"] += 0.5
            out["d_fake"] += 0.4
        metrics = {k: v / count for k, v in out.items()}
        nan_at = self.extra.get("nan_at_epoch")
        if nan_at is not None and epoch >= nan_at:
            metrics["g_loss"] = float("nan")
        return metrics

    def sample(self, noise: np.ndarray) -> np.ndarray:
        return np.tanh(noise @ self.w).reshape(-1, 28, 28, 1)

    def weights(self) -> dict[str, np.ndarray]:
        return {"generator.0.weight": self.w.T.copy(), "discriminator.0.bias": self.d.copy()}

    def state(self) -> dict[str, np.ndarray]:
        return self.weights()

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.w = np.array(state["generator.0.weight"]).T.copy()
        self.d = np.array(state["discriminator.0.bias"]).copy()


class FakeGenerator:
    def __init__(self, recipe: Any, weights: Mapping[str, np.ndarray]) -> None:
        self.latent_dim = recipe.latent_dim
        self.w = np.asarray(weights["generator.0.weight"]).T

    def generate(self, noise: np.ndarray) -> np.ndarray:
        return np.tanh(noise @ self.w).reshape(-1, 28, 28, 1)


class FakeBackend:
    def __init__(self, spec: Any) -> None:
        self.spec = spec

    def summary(self, recipe: Any) -> list:
        return []

    def create_trainer(self, recipe: Any, config: Any, images: np.ndarray):
        return FakeTrainer(recipe, config, images)

    def load_generator(self, recipe: Any, weights: Mapping[str, np.ndarray]) -> FakeGenerator:
        return FakeGenerator(recipe, weights)


def create_backend(spec: Any) -> FakeBackend:
    return FakeBackend(spec)


class FakePlugin:
    """Registers ``mlp-fake``: the mlp card on the numpy backend above."""

    @hookimpl
    def register_models(self, register):
        register(family="mlp", backend="fake", factory="fakes:create_backend")


class FakeDataset:
    def __init__(self, n: int = 256, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.name = "fashion"
        self.split = "train"
        self.images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
        self.labels = rng.integers(0, 10, n, dtype=np.uint8)
        self.source = "random test images"

    def __len__(self) -> int:
        return len(self.images)
