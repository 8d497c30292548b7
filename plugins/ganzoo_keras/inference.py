"""Trained networks in evaluation mode, behind the core's Generator / Discriminator protocols."""

from __future__ import annotations

import numpy as np

from ganzoo.noise import as_latent_batch
from ganzoo_keras.runtime import keras, tf

CHUNK = 1024  # images per forward pass: bounds memory for large metric batches


def forward(model: keras.Model, inputs: np.ndarray, device: str = "/CPU:0",
            labels: np.ndarray | None = None) -> np.ndarray:
    """``model(inputs, training=False)`` in chunks, as float32 numpy; a conditional model is
    called on ``[inputs, labels]``."""
    inputs = np.asarray(inputs, dtype=np.float32)
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int32).reshape(-1)
        if len(labels) != len(inputs):
            raise ValueError(f"{len(labels)} labels for {len(inputs)} inputs")
    outputs = []
    with tf.device(device):
        for start in range(0, max(len(inputs), 1), CHUNK):
            chunk = tf.convert_to_tensor(inputs[start:start + CHUNK])
            if labels is not None:
                chunk = [chunk, tf.convert_to_tensor(labels[start:start + CHUNK])]
            outputs.append(tf.cast(model(chunk, training=False), tf.float32).numpy())
    return np.concatenate(outputs)


def _conditional(model: keras.Model) -> bool:
    return isinstance(model.inputs, list) and len(model.inputs) == 2


def _needs(labels: np.ndarray | None) -> np.ndarray:
    if labels is None:
        raise ValueError("a class-conditional network needs labels (one per image)")
    return labels


class KerasGenerator:
    """A generator: (N, latent_dim) noise -> (N, H, W, C) float32 images in [-1, 1]."""

    def __init__(self, model: keras.Model, latent_dim: int, device: str = "/CPU:0"):
        self.model = model
        self.latent_dim = latent_dim
        self.device = device

    @property
    def classes(self) -> int | None:
        """The number of classes of a conditional generator (None: unconditional)."""
        if not _conditional(self.model):
            return None
        return int(self.model.get_layer("generator.embedding").classes)

    def generate(self, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        noise = as_latent_batch(noise, self.latent_dim)
        if _conditional(self.model):
            return forward(self.model, noise, self.device, _needs(labels))
        return forward(self.model, noise, self.device)


class KerasDiscriminator:
    """A discriminator: (N, H, W, C) images in [-1, 1] -> (N,) float32 logits."""

    def __init__(self, model: keras.Model, device: str = "/CPU:0"):
        self.model = model
        self.device = device

    def logits(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        if _conditional(self.model):
            return forward(self.model, images, self.device, _needs(labels)).reshape(-1)
        return forward(self.model, images, self.device).reshape(-1)
