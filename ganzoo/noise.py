"""Latent noise drawn with numpy, so fixed sample batches are identical across backends."""

from __future__ import annotations

import numpy as np


def draw_noise(kind: str, n: int, latent_dim: int, seed: int) -> np.ndarray:
    """(n, latent_dim) float32 noise: ``normal`` N(0, 1) or ``uniform`` U(-1, 1)."""
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.standard_normal((n, latent_dim), dtype=np.float32)
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, (n, latent_dim)).astype(np.float32)
    raise ValueError(f"unknown noise kind {kind!r}")


def as_latent_batch(noise: np.ndarray, latent_dim: int) -> np.ndarray:
    """``noise`` as a float32 (N, latent_dim) array; any other shape is a clear error."""
    noise = np.asarray(noise, dtype=np.float32)
    if noise.ndim != 2 or noise.shape[1] != latent_dim:
        raise ValueError(f"noise must be (N, {latent_dim}), got {noise.shape}")
    return noise
