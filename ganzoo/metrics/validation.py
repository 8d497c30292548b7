"""Metric validation: disturb real images at rising strengths and record every metric.

A metric means what it claims only if it moves the claimed way as the disturbance grows: FID
and KID up under every disturbance; precision and density down as images get less realistic;
recall, k-NN coverage, class coverage and the IS-like score down as classes go missing or the set
collapses. :func:`run` measures, :func:`violations` lists every step against a claim, and
``benchmarks/metrics_validation.py`` writes docs/metrics-validation.md from it.

Sets. The reference is the test split (a seeded subset of ``n``). The disturbed images come from
a disjoint real pool: the train split when it is on disk, otherwise the other half of the test
split (MNIST offline has no train split). Strength 0 is that clean held-out set, so level 0 is
the real-vs-real floor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.data import DatasetNotFoundError
from ganzoo.metrics import disturb
from ganzoo.metrics.classes import class_shares
from ganzoo.metrics.extractor import Extractor, load_extractor
from ganzoo.metrics.reference import _load
from ganzoo.metrics.suite import FeatureSet, MetricSettings, measure

# The metrics recorded, their labels, and +1 when higher is better (for the plots).
METRICS: dict[str, tuple[str, int]] = {
    "fid": ("FID", -1), "kid": ("KID", -1), "precision": ("precision", 1),
    "recall": ("recall", 1), "density": ("density", 1), "knn_coverage": ("k-NN coverage", 1),
    "is": ("IS-like", 1), "coverage": ("class coverage", 1),
}
OTHER_DATASET = {"fashion": "mnist", "mnist": "fashion"}
QUALITY = ("noise", "blur", "salt_pepper", "swirl", "mix")
DIVERSITY = ("drop_classes", "collapse")


@dataclass(frozen=True)
class Pools:
    """The real images a validation run draws from."""

    dataset: str
    reference_images: np.ndarray
    reference_labels: np.ndarray
    pool_images: np.ndarray  # disjoint from the reference
    pool_labels: np.ndarray
    other_images: np.ndarray  # another data set, for mixing in
    description: str


@dataclass(frozen=True)
class Disturbance:
    """One way of spoiling the clean set, its strengths, and what each metric claims."""

    name: str
    title: str
    strength: str  # what the level means
    levels: tuple[float, ...]
    make: Callable[[Pools, np.ndarray, float, int, np.random.Generator], np.ndarray]
    claims: dict[str, int] = field(default_factory=dict)  # metric -> +1 up / -1 down


def _claims(name: str) -> dict[str, int]:
    out = {"fid": 1, "kid": 1}
    if name in QUALITY:
        out.update(precision=-1, density=-1)
    if name in DIVERSITY:
        out.update(recall=-1, knn_coverage=-1, coverage=-1, **{"is": -1})
    return out


def _drop(pools: Pools, clean: np.ndarray, k: float, n: int,
          rng: np.random.Generator) -> np.ndarray:
    if k == 0:
        return clean
    images, _ = disturb.drop_classes(pools.pool_images, pools.pool_labels, int(k), n, rng)
    return images


def _collapse(pools: Pools, clean: np.ndarray, m: float, n: int,
              rng: np.random.Generator) -> np.ndarray:
    return clean if m >= n else disturb.collapse(clean, int(m), n, rng)


def disturbances(n: int, levels: int | None = None) -> list[Disturbance]:
    """The seven disturbances; ``levels`` keeps the first and an even spread of the rest."""
    collapse_levels = tuple(float(m) for m in (n, 1000, 100, 10, 1) if m <= n)
    found = [
        Disturbance("noise", "Gaussian noise", "pixel noise σ (pixels in [0, 1])",
                    (0.0, 0.02, 0.05, 0.1, 0.2, 0.4),
                    lambda p, c, s, n, r: disturb.gaussian_noise(c, s, r)),
        Disturbance("blur", "Gaussian blur", "blur σ (pixels)", (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
                    lambda p, c, s, n, r: disturb.blur(c, s)),
        Disturbance("salt_pepper", "salt and pepper", "fraction of pixels set to 0 or 255",
                    (0.0, 0.01, 0.03, 0.1, 0.2, 0.4),
                    lambda p, c, s, n, r: disturb.salt_and_pepper(c, s, r)),
        Disturbance("swirl", "swirl", "swirl strength (radius 28)",
                    (0.0, 1.0, 2.0, 3.0, 5.0, 8.0),
                    lambda p, c, s, n, r: disturb.swirl(c, s)),
        Disturbance("mix", "mixing in the other data set", "fraction replaced by the other set",
                    (0.0, 0.1, 0.25, 0.5, 0.75, 1.0),
                    lambda p, c, s, n, r: disturb.mix_in(c, p.other_images, s, r)),
        Disturbance("drop_classes", "dropping classes", "classes dropped (of 10)",
                    (0.0, 1.0, 3.0, 5.0, 7.0, 9.0), _drop),
        Disturbance("collapse", "collapse to m distinct images", "distinct images m",
                    collapse_levels, _collapse),
    ]
    out = []
    for d in found:
        lv = d.levels
        if levels is not None and levels < len(lv):
            pick = np.unique(np.round(np.linspace(0, len(lv) - 1, levels)).astype(int))
            lv = tuple(lv[i] for i in pick)
        out.append(Disturbance(d.name, d.title, d.strength, lv, d.make, _claims(d.name)))
    return out


def load_pools(dataset: str, data_dir: str | Path | None = None) -> Pools:
    """Reference (test) and pool (train, else the other half of test) images of ``dataset``."""
    test = _load(None, dataset, "test", data_dir)
    other = _load(None, OTHER_DATASET[dataset], "test", data_dir)
    try:
        from ganzoo.data import load_dataset

        train = load_dataset(None, dataset, "train", data_dir=data_dir, download=False,
                             progress=False)
        return Pools(dataset, test.images, np.asarray(test.labels), train.images,
                     np.asarray(train.labels), other.images,
                     f"reference: {dataset}/test; disturbed: images of {dataset}/train")
    except DatasetNotFoundError:
        order = np.random.default_rng(12345).permutation(len(test))
        a, b = order[:len(test) // 2], order[len(test) // 2:]
        labels = np.asarray(test.labels)
        return Pools(dataset, test.images[a], labels[a], test.images[b], labels[b],
                     other.images,
                     f"reference: half of {dataset}/test ({len(a):,} images); disturbed: the "
                     f"other half ({len(b):,}), as no train split is on disk")


def settings_for(n: int) -> MetricSettings:
    """The eval defaults, with KID subsets no larger than the sets."""
    return MetricSettings(kid_subset_size=min(MetricSettings().kid_subset_size, n))


def run(dataset: str, n: int, *, levels: int | dict[str, tuple[float, ...]] | None = None,
        only: tuple[str, ...] | None = None,
        seed: int = 0, data_dir: str | Path | None = None,
        extractor: Extractor | None = None,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every metric at every level of every disturbance, on ``n`` images of ``dataset``.

    ``levels``: how many levels of each disturbance (an even spread, first included), or the
    levels themselves per disturbance name; ``only``: the disturbances to run.
    """
    pools = load_pools(dataset, data_dir)
    n = min(n, len(pools.reference_images), len(pools.pool_images))
    extractor = extractor or load_extractor(dataset)
    rng = np.random.default_rng(seed)
    ref_index = np.sort(rng.choice(len(pools.reference_images), n, replace=False))
    real = FeatureSet(*extractor.features_and_probs(pools.reference_images[ref_index]))
    shares = class_shares(pools.reference_labels[ref_index], extractor.num_classes)
    clean = pools.pool_images[rng.choice(len(pools.pool_images), n, replace=False)]
    settings = settings_for(n)
    clean_values: dict[str, float] | None = None  # level 0 is the same clean set everywhere
    out: dict[str, Any] = {"dataset": dataset, "n": n, "seed": seed,
                           "sets": pools.description, "settings": settings.to_dict(),
                           "extractor": extractor.describe(), "disturbances": {}}
    count = levels if isinstance(levels, int) else None
    for di, d in enumerate(disturbances(n, count)):
        if only is not None and d.name not in only:
            continue
        if isinstance(levels, dict) and d.name in levels:
            d = Disturbance(d.name, d.title, d.strength, tuple(levels[d.name]), d.make, d.claims)
        rows = []
        for i, level in enumerate(d.levels):
            # The first level of every disturbance is no disturbance: the clean set.
            images = (clean if i == 0 else
                      d.make(pools, clean, level, n, np.random.default_rng([seed, di, i])))
            if images is clean and clean_values is not None:
                values = clean_values
            else:
                fake = FeatureSet(*extractor.features_and_probs(images))
                full = measure(fake, real, shares, settings, seed)
                values = {m: float(full[m]) for m in METRICS}
                if images is clean:
                    clean_values = values
            rows.append({"level": level, **values})
            if progress:
                progress(f"{dataset} {d.name} {level:g}: " + ", ".join(
                    f"{m} {values[m]:.4g}" for m in METRICS))
        out["disturbances"][d.name] = {"title": d.title, "strength": d.strength,
                                       "claims": d.claims, "rows": rows}
    return out


def violations(result: dict[str, Any], tolerance: dict[str, float] | None = None) -> list[str]:
    """Every claimed metric that is not monotone in its claimed direction, in words.

    A step may go against the claim by at most ``tolerance[metric]`` (default 0); the last
    level must differ from the first in the claimed direction.
    """
    tolerance = tolerance or {}
    out = []
    for name, d in result["disturbances"].items():
        for metric, sign in d["claims"].items():
            values = [row[metric] for row in d["rows"]]
            levels = [row["level"] for row in d["rows"]]
            tol = tolerance.get(metric, 0.0)
            for j in range(1, len(values)):
                if sign * (values[j] - values[j - 1]) < -tol:
                    out.append(f"{result['dataset']} {name}: {metric} goes "
                               f"{'down' if sign > 0 else 'up'} from level {levels[j - 1]:g} "
                               f"to {levels[j]:g} ({values[j - 1]:.4g} -> {values[j]:.4g})")
            if len(values) > 1 and sign * (values[-1] - values[0]) <= 0:
                out.append(f"{result['dataset']} {name}: {metric} does not move "
                           f"({values[0]:.4g} at level {levels[0]:g}, {values[-1]:.4g} at "
                           f"{levels[-1]:g})")
    return out
