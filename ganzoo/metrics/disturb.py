"""Disturbances of real images at a given strength, for validating the metrics (TTUR style).

Every function takes uint8 images (N, 28, 28, 1) and returns uint8 images of the same shape;
strength 0 returns them unchanged. The randomness comes from the ``rng`` passed in, so a run is
reproducible. Heusel et al. 2017 (TTUR) validated FID with Gaussian noise, blur, salt and
pepper, swirl and mixing in another data set; dropping classes and collapsing to a few images
are the failure modes that recall and coverage claim to detect.
"""

from __future__ import annotations

import numpy as np


def _as_float(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, dtype=np.float32) / 255.0


def _as_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def gaussian_noise(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add N(0, sigma^2) to each pixel (pixels in [0, 1]), then clip."""
    x = _as_float(images)
    return _as_uint8(x + rng.standard_normal(x.shape).astype(np.float32) * sigma)


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def blur(images: np.ndarray, sigma: float,
         rng: np.random.Generator | None = None) -> np.ndarray:
    """Separable Gaussian blur with standard deviation ``sigma`` pixels (zero padding)."""
    if sigma <= 0:
        return np.asarray(images).copy()
    x = _as_float(images)[..., 0]
    k = _gaussian_kernel(sigma)
    r = len(k) // 2
    for axis in (1, 2):
        pad = [(0, 0)] * 3
        pad[axis] = (r, r)
        p = np.pad(x, pad)
        size = x.shape[axis]
        x = sum(k[i] * np.take(p, np.arange(i, i + size), axis=axis) for i in range(len(k)))
    return _as_uint8(x)[..., None]


def salt_and_pepper(images: np.ndarray, fraction: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Set a ``fraction`` of the pixels to black or white (half each, at random)."""
    x = np.asarray(images).copy()
    hit = rng.random(x.shape) < fraction
    x[hit] = np.where(rng.random(int(hit.sum())) < 0.5, 0, 255).astype(np.uint8)
    return x


def _bilinear(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample (N, H, W) images at float coordinates (H, W); outside is 0."""
    h, w = x.shape[1:]
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    fr, fc = rows - r0, cols - c0
    out = np.zeros_like(x)
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            rr, cc = r0 + dr, c0 + dc
            ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            vals = x[:, np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)]
            out += vals * (wr * wc * ok).astype(x.dtype)
    return out


def swirl(images: np.ndarray, strength: float,
          rng: np.random.Generator | None = None) -> np.ndarray:
    """scikit-image's swirl about the centre, radius 28: angle strength * exp(-5 r / (28 ln 2)).

    Radius 28 (the image's width) so that the whole garment twists, not only its centre.
    """
    if strength == 0:
        return np.asarray(images).copy()
    x = _as_float(images)[..., 0]
    h, w = x.shape[1:]
    cy, cx, radius = (h - 1) / 2, (w - 1) / 2, 28.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    rho = np.hypot(dy, dx)
    theta = strength * np.exp(-rho / (np.log(2) * radius / 5)) + np.arctan2(dy, dx)
    return _as_uint8(_bilinear(x, cy + rho * np.sin(theta), cx + rho * np.cos(theta)))[..., None]


def drop_classes(pool: np.ndarray, labels: np.ndarray, k: int, n: int,
                 rng: np.random.Generator, num_classes: int = 10) -> tuple[np.ndarray, bool]:
    """``n`` images of ``pool`` without the classes 0..k-1 (with replacement only if needed).

    Returns the images and whether they had to be drawn with replacement.
    """
    keep = np.flatnonzero(labels >= k) if k < num_classes else np.arange(0)
    if len(keep) == 0:
        raise ValueError(f"cannot drop all {num_classes} classes")
    replace = len(keep) < n
    return pool[rng.choice(keep, n, replace=replace)], replace


def collapse(pool: np.ndarray, m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` images that are ``m`` distinct images of ``pool``, each repeated about n/m times."""
    distinct = pool[rng.choice(len(pool), m, replace=False)]
    return distinct[np.arange(n) % m]


def mix_in(images: np.ndarray, other: np.ndarray, fraction: float,
           rng: np.random.Generator) -> np.ndarray:
    """Replace a ``fraction`` of ``images`` by images of ``other`` (another data set)."""
    x = np.asarray(images).copy()
    count = round(fraction * len(x))
    where = rng.choice(len(x), count, replace=False)
    x[where] = other[rng.choice(len(other), count, replace=len(other) < count)]
    return x
