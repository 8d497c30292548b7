"""From a dataset's uint8 images to the one layout every backend adapter starts from.

Pixels become ``(x - 127.5) / 127.5`` (0 -> -1, 255 -> 1) in each backend's own adapter
(``ganzoo_torch.data.to_torch``, ``ganzoo_keras.data.to_tensorflow``): the core holds
no framework code. What they share, checking and laying out the uint8 array, is here.
"""

from __future__ import annotations

import numpy as np


def as_nhwc_uint8(images: np.ndarray) -> np.ndarray:
    """``images`` as a C-contiguous, writable (N, H, W, C) uint8 array ((N, H, W) gains C=1)."""
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {images.dtype}")
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(f"expected (N, H, W) or (N, H, W, C) images, got shape {images.shape}")
    # torch.from_numpy warns on read-only arrays; copy only when the input is one.
    return np.require(images, requirements=["C_CONTIGUOUS", "WRITEABLE"])
