"""Trained networks in evaluation mode, behind the core's Generator / Discriminator protocols."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ganzoo.noise import as_latent_batch
from ganzoo_torch.runtime import nhwc_to_tensor, to_nhwc_numpy

EVAL_CHUNK = 1024  # images per forward when generating or scoring many at once


def _labels_tensor(labels: np.ndarray | None, n: int, device: torch.device) -> torch.Tensor:
    if labels is None:
        raise ValueError("a class-conditional network needs labels (one per image)")
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} images")
    return torch.from_numpy(labels).to(device)


class TorchGenerator:
    """A generator in evaluation mode (implements :class:`ganzoo.protocols.Generator`)."""

    def __init__(self, module: nn.Module, latent_dim: int, device: torch.device):
        self.module = module.eval()
        self.latent_dim = latent_dim
        self.device = device

    @property
    def classes(self) -> int | None:
        """The number of classes of a conditional generator (None: unconditional)."""
        label = getattr(self.module, "label", None)
        return None if label is None else label.classes

    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """(N, latent_dim) noise (and, conditional, (N,) labels) to (N, H, W, C) float32
        images in [-1, 1]."""
        noise = as_latent_batch(noise, self.latent_dim)
        y = None if self.classes is None else _labels_tensor(labels, len(noise), self.device)
        out = []
        with torch.no_grad():
            for start in range(0, len(noise), EVAL_CHUNK):
                z = torch.from_numpy(noise[start : start + EVAL_CHUNK]).to(self.device)
                if y is None:
                    out.append(to_nhwc_numpy(self.module(z)))
                else:
                    out.append(to_nhwc_numpy(self.module(z, y[start : start + EVAL_CHUNK])))
        return np.concatenate(out) if out else np.zeros((0, *self._image_shape()), np.float32)

    def _image_shape(self) -> tuple[int, ...]:
        with torch.no_grad():
            z = torch.zeros(1, self.latent_dim, device=self.device)
            if self.classes is not None:
                return to_nhwc_numpy(self.module(z, torch.zeros(1, dtype=torch.long,
                                                                device=self.device))).shape[1:]
            return to_nhwc_numpy(self.module(z)).shape[1:]


class TorchDiscriminator:
    """A discriminator in evaluation mode (implements ``ganzoo.protocols.Discriminator``)."""

    def __init__(self, module: nn.Module, device: torch.device):
        self.module = module.eval()
        self.device = device

    def logits(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """(N, H, W, C) images in [-1, 1] (and, conditional, (N,) labels) to (N,) float32
        logits (real > 0)."""
        conditional = getattr(self.module, "label", None) is not None
        y = _labels_tensor(labels, len(images), self.device) if conditional else None
        out = []
        with torch.no_grad():
            for start in range(0, len(images), EVAL_CHUNK):
                x = nhwc_to_tensor(images[start : start + EVAL_CHUNK], self.device)
                logits = self.module(x) if y is None else self.module(
                    x, y[start : start + EVAL_CHUNK])
                out.append(logits.reshape(-1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0,), np.float32)
