"""The comparison's pictures: sample grids side by side (same noise where the latent spaces
match) and the training curves overlaid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganzoo.catalog import Catalog
from ganzoo.compare.report import CompareReport
from ganzoo.errors import GanzooError
from ganzoo.evaluation import generate, load_generator
from ganzoo.images import make_grid

GRID_IMAGES = 64


def side_by_side(panels: list[tuple[str, np.ndarray]], path: Path, scale: int = 2) -> Path:
    """Sample grids (uint8 NHWC batches) side by side, each titled, in one PNG."""
    from PIL import Image, ImageDraw

    pictures = []
    for _, images in panels:
        grid = make_grid(images.astype(np.float32) / 127.5 - 1.0, ncols=8)
        picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).convert("RGB")
        pictures.append(picture.resize((picture.width * scale, picture.height * scale),
                                       Image.NEAREST))
    gap, title = 16, 22
    width = sum(p.width for p in pictures) + gap * (len(pictures) + 1)
    height = max(p.height for p in pictures) + title + gap
    canvas = Image.new("RGB", (width, height), color=(32, 32, 32))
    draw = ImageDraw.Draw(canvas)
    x = gap
    for (label, _), picture in zip(panels, pictures, strict=True):
        canvas.paste(picture, (x, title))
        draw.text((x, 5), label, fill=(235, 235, 235))
        x += picture.width + gap
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def sample_panels(catalog: Catalog, report: CompareReport,
                   seed: int) -> tuple[list[tuple[str, np.ndarray]], str]:
    panels, noises, failed = [], set(), []
    for c in report.contenders:
        try:
            generator, meta = load_generator(catalog, c.record)
            images = generate(generator, meta, GRID_IMAGES, seed)
        except GanzooError as exc:
            failed.append(f"{c.record.ref} ({exc})")
            continue
        noises.add((meta["noise"], int(meta["latent_dim"])))
        panels.append((f"{c.record.ref}", images))
    if len(noises) == 1:
        kind, dim = next(iter(noises))
        note = (f"Every grid is drawn from the same {GRID_IMAGES} latent vectors "
                f"({kind} noise, {dim} dimensions, seed {seed}).")
    else:
        note = ("The models' latent spaces differ (" + ", ".join(
            f"{k} {d}-d" for k, d in sorted(noises)) + "), so each grid is drawn from its own "
            f"noise with seed {seed}; rows do not correspond.")
    if failed:
        note += " Not drawn: " + "; ".join(failed) + "."
    return panels, note


