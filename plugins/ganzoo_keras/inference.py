"""Trained networks in evaluation mode, behind the core's Generator / Discriminator protocols."""

from __future__ import annotations

import numpy as np

from ganzoo.noise import as_latent_batch
from ganzoo_keras.runtime import keras, tf

CHUNK = 1024  # images per forward pass: bounds memory for large metric batches


def forward(model: keras.Model, inputs: np.ndarray, device: str = "/CPU:0") -> np.ndarray:
    """``model(inputs, training=False)`` in chunks, as float32 numpy."""
    inputs = np.asarray(inputs, dtype=np.float32)
    outputs = []
    with tf.device(device):
        for start in range(0, max(len(inputs), 1), CHUNK):
            chunk = tf.convert_to_tensor(inputs[start:start + CHUNK])
            outputs.append(tf.cast(model(chunk, training=False), tf.float32).numpy())
    return np.concatenate(outputs)


class KerasGenerator:
    """A generator: (N, latent_dim) noise -> (N, H, W, C) float32 images in [-1, 1]."""

    def __init__(self, model: keras.Model, latent_dim: int, device: str = "/CPU:0"):
        self.model = model
        self.latent_dim = latent_dim
        self.device = device

    def generate(self, noise: np.ndarray) -> np.ndarray:
        noise = as_latent_batch(noise, self.latent_dim)
        return forward(self.model, noise, self.device)


class KerasDiscriminator:
    """A discriminator: (N, H, W, C) images in [-1, 1] -> (N,) float32 logits."""

    def __init__(self, model: keras.Model, device: str = "/CPU:0"):
        self.model = model
        self.device = device

    def logits(self, images: np.ndarray) -> np.ndarray:
        return forward(self.model, images, self.device).reshape(-1)
