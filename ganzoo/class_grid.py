"""A by-class picture: one row of generated images per class, each row labelled with the class
name on its left (Pillow only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ganzoo.images import make_grid

LABEL_WIDTH = 80  # pixels (before scaling) left of the images for the class names
PAD = 2  # as ganzoo.images.make_grid


def class_grid_size(classes: int, per_class: int, image_shape: Sequence[int],
                    scale: int = 2) -> tuple[int, int]:
    """(width, height) in pixels of the PNG :func:`save_class_grid` writes."""
    h, w = int(image_shape[0]), int(image_shape[1])
    width = LABEL_WIDTH + per_class * (w + PAD) + PAD
    height = classes * (h + PAD) + PAD
    return width * scale, height * scale


def save_class_grid(images: np.ndarray, names: Sequence[str], path: Path,
                    scale: int = 2) -> Path:
    """Save ``images`` (classes * per_class, H, W, C) in [-1, 1], class-major, as rows with
    ``names[c]`` written left of row ``c``."""
    from PIL import Image, ImageDraw

    classes = len(names)
    per_class = len(images) // classes
    if per_class * classes != len(images) or per_class < 1:
        raise ValueError(f"{len(images)} images do not make {classes} rows")
    grid = make_grid(images, per_class, PAD)
    h = int(np.shape(images)[1])
    picture = np.zeros((grid.shape[0], LABEL_WIDTH + grid.shape[1], grid.shape[2]), np.uint8)
    picture[:, LABEL_WIDTH:] = grid
    canvas = Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture)
    draw = ImageDraw.Draw(canvas)
    white = 255 if canvas.mode == "L" else (255, 255, 255)
    for c, name in enumerate(names):
        y = PAD + c * (h + PAD) + max(0, (h - 10) // 2)
        draw.text((2, y), f"{c} {name}"[:13], fill=white)
    if scale > 1:
        canvas = canvas.resize((canvas.width * scale, canvas.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
