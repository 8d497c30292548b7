"""Training images as one device tensor, and the per-epoch order of its batches."""

from __future__ import annotations

import numpy as np

from ganzoo.errors import DatasetError
from ganzoo_keras.adapters import to_tensorflow
from ganzoo_keras.runtime import tf


def images_to_tensor(images: np.ndarray, image_shape: tuple[int, int, int],
                     device: str | None = None) -> tf.Tensor:
    """(N, H, W[, C]) uint8 -> one float32 NHWC tensor in [-1, 1] on ``device``.

    Converted once (``ganzoo_keras.adapters.to_tensorflow``), so no batch is ever copied from
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
