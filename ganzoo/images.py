"""Image grids from generated batches, saved as PNG with Pillow (no matplotlib needed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] (N, H, W, C) to uint8 in [0, 255]."""
    return np.clip(np.rint((np.asarray(images, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(
        np.uint8
    )


def make_grid(images: np.ndarray, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile (N, H, W, C) images in [-1, 1] into one (rows*H, cols*W, C) uint8 picture."""
    images = to_uint8(images)
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.zeros((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def save_grid(images: np.ndarray, path: Path, ncols: int | None = None, scale: int = 2) -> Path:
    """Save a grid of images as a PNG, upscaled ``scale`` times (nearest) for legibility."""
    from PIL import Image

    grid = make_grid(images, ncols)
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    picture = Image.fromarray(grid)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path
