"""From a dataset's uint8 images to the float tensor the Keras trainer trains on, placed once.

Pixels become ``(x - 127.5) / 127.5`` (0 -> -1, 255 -> 1), converted on the device from the
uint8 array (a quarter of the bytes of float32).
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from ganzoo.data.adapters import as_nhwc_uint8
from ganzoo_keras.runtime import tf


def to_tensorflow(images: np.ndarray, device: str | None = None) -> tf.Tensor:
    """(N, H, W[, C]) uint8 -> float32 (N, H, W, C) in [-1, 1], on ``device`` when named."""
    with tf.device(device) if device else nullcontext():
        raw = tf.convert_to_tensor(as_nhwc_uint8(images))
        return (tf.cast(raw, tf.float32) - 127.5) / 127.5
