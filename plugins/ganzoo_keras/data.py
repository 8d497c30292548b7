"""What a Keras training run consumes: the images as one device tensor, and the per-epoch order
of its batches. (The noise and fake labels are drawn inside the trainer's graph, from its
seeded ``tf.random.Generator``s.)

Pixels become ``(x - 127.5) / 127.5`` (0 -> -1, 255 -> 1), converted on the device from the
uint8 array (a quarter of the bytes of float32).
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from ganzoo.data.adapters import as_nhwc_uint8
from ganzoo.errors import DatasetError
from ganzoo_keras.runtime import tf


def to_tensorflow(images: np.ndarray, device: str | None = None) -> tf.Tensor:
    """(N, H, W[, C]) uint8 -> float32 (N, H, W, C) in [-1, 1], on ``device`` when named."""
    with tf.device(device) if device else nullcontext():
        raw = tf.convert_to_tensor(as_nhwc_uint8(images))
        return (tf.cast(raw, tf.float32) - 127.5) / 127.5


def images_to_tensor(images: np.ndarray, image_shape: tuple[int, int, int],
                     device: str | None = None) -> tf.Tensor:
    """(N, H, W[, C]) uint8 -> one float32 NHWC tensor in [-1, 1] on ``device``.

    Converted once (:func:`to_tensorflow`), so no batch is ever copied from
    the host during training; the shape is checked against the recipe first.
    """
    shape = tuple(np.shape(images))
    if len(shape) == 3:
        shape = (*shape, 1)
    if len(shape) != 4 or shape[1:] != tuple(image_shape):
        raise DatasetError(
            f"images have shape {tuple(np.shape(images))}; this recipe needs (N, "
            f"{', '.join(str(s) for s in image_shape)}) uint8"
        )
    if np.asarray(images).dtype != np.uint8:
        raise DatasetError(f"images must be uint8, got {np.asarray(images).dtype}")
    return to_tensorflow(images, device)


def epoch_permutation(n: int, seed: int, epoch: int) -> tf.Tensor:
    """The order of the ``n`` images in ``epoch``: a pure function of (seed, epoch).

    Stateless, so a resumed run regenerates it; computed on the CPU so every device gets the
    same order.
    """
    with tf.device("/CPU:0"):
        key = tf.constant([seed, epoch], dtype=tf.int64)
        return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int32), seed=key)
