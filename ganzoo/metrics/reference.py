"""Real images as the metrics see them: features of a real split (cached) and the real floor.

The reference set is the dataset's test split (the bundled copy when no other is on disk: same
bytes, same checksums). Its features depend only on (dataset, split, n, seed, extractor sha256),
so they are computed once and cached as .npz under ``$GANZOO_CACHE/metrics`` (else the
platform's user cache directory). The *floor* is what the metrics give for real images against
the same reference: a subset of the train split vs the test split, or, where the train split is
not on disk (MNIST offline), two disjoint halves of the test split. It puts every FID on a scale.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.data import DatasetNotFoundError, load_dataset
from ganzoo.metrics.extractor import Extractor
from ganzoo.metrics.suite import FeatureSet, MetricSettings, measure

CACHE_ENV = "GANZOO_CACHE"
REFERENCE_SPLIT = "test"
FLOOR_SPLIT = "train"
BUNDLED_PREFIX = "bundled-"


def reference_split_for(training_split: str | None) -> str:
    """The real reference for models trained on ``training_split``.

    A bundled split (``bundled-test``) is measured against ``bundled-test``: reference and
    floor come from the package, offline, the same on every machine. Any other split (or None)
    against ``test`` (on disk, else its bundled copy).
    """
    if training_split and training_split.startswith(BUNDLED_PREFIX):
        return f"{BUNDLED_PREFIX}{REFERENCE_SPLIT}"
    return REFERENCE_SPLIT


def metrics_cache_dir() -> Path:
    """``$GANZOO_CACHE/metrics``, else the platform's user cache directory for ganzoo."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("ganzoo")
    return Path(root).expanduser() / "metrics"


@dataclass(frozen=True)
class RealSet:
    """Features of ``n`` images of a real split (all of it when ``n`` >= its size)."""

    dataset: str
    split: str
    source: str
    n: int
    seed: int
    total: int
    feats: FeatureSet
    labels: np.ndarray

    def describe(self) -> str:
        part = "all" if self.n == self.total else f"{self.n:,} (seed {self.seed}) of"
        return f"{self.dataset}/{self.split}: {part} {self.total:,} images"


def _load(catalog: Any, dataset: str, split: str, data_dir: str | Path | None) -> Any:
    """A split from disk, never downloaded; the test split falls back to the bundled copy."""
    try:
        return load_dataset(catalog, dataset, split, data_dir=data_dir, download=False)
    except DatasetNotFoundError:
        spec = catalog.dataset(dataset) if catalog is not None else None
        names = spec.split_names if spec is not None else ("bundled-test",)
        bundled = f"bundled-{split}"
        if split == REFERENCE_SPLIT and bundled in names:
            return load_dataset(catalog, dataset, bundled)
        raise


def _subset(total: int, n: int, seed: int) -> np.ndarray:
    if n >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, n, replace=False))


def _cache_file(dataset: str, split: str, n: int, seed: int, extractor: Extractor) -> Path:
    return metrics_cache_dir() / f"{dataset}-{split}-n{n}-seed{seed}-{extractor.sha256[:16]}.npz"


def real_features(catalog: Any, dataset: str, split: str, n: int, seed: int,
                  extractor: Extractor, data_dir: str | Path | None = None,
                  cache: bool = True) -> RealSet:
    """Features of ``n`` images of ``dataset``/``split`` (a seeded subset), cached on disk."""
    path = _cache_file(dataset, split, n, seed, extractor)
    if cache and path.is_file():
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(str(saved["meta"]))
            feats = FeatureSet(saved["features"].astype(np.float64),
                               saved["probs"].astype(np.float64))
            return RealSet(dataset, split, meta["source"], len(feats), seed, meta["total"],
                           feats, saved["labels"])
    data = _load(catalog, dataset, split, data_dir)
    index = _subset(len(data), n, seed)
    features, probs = extractor.features_and_probs(data.images[index])
    real = RealSet(dataset, split, data.source, len(index), seed, len(data),
                   FeatureSet(features, probs), np.asarray(data.labels)[index])
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, features=features.astype(np.float32), probs=probs.astype(np.float32),
                     labels=real.labels,
                     meta=np.array(json.dumps({"source": real.source, "total": real.total})))
        os.replace(tmp, path)
    return real


def floor(catalog: Any, reference: RealSet, extractor: Extractor, settings: MetricSettings,
          reference_shares: np.ndarray, data_dir: str | Path | None = None,
          cache: bool = True) -> dict[str, Any]:
    """The metrics of real images against the reference: the best a generator could score.

    Train subset of the reference's size vs the reference when the train split is on disk;
    otherwise two disjoint halves of the reference split (then at half the sample count, which
    inflates FID: the result says so).
    """
    key = hashlib.sha256(json.dumps([reference.describe(), reference.seed, extractor.sha256,
                                     settings.to_dict()], sort_keys=True).encode()).hexdigest()
    path = metrics_cache_dir() / f"floor-{reference.dataset}-{key[:20]}.json"
    if cache and path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    other = None
    if not reference.split.startswith(BUNDLED_PREFIX):  # a bundled reference stays bundled
        try:
            other = real_features(catalog, reference.dataset, FLOOR_SPLIT, reference.n,
                                  reference.seed, extractor, data_dir, cache)
        except DatasetNotFoundError:
            other = None
    if other is not None:
        results = measure(other.feats, reference.feats, reference_shares, settings,
                          reference.seed)
        how = {"real_split": other.split, "real_n": other.n, "against": reference.describe(),
               "method": f"{other.describe()} vs {reference.describe()}"}
    else:
        half = min(reference.n, reference.total // 2)
        # Halves of the whole split, so the two sets never share an image.
        data = _load(catalog, reference.dataset, reference.split, data_dir)
        order = np.random.default_rng(reference.seed).permutation(len(data))
        a, b = order[:half], order[half:2 * half]
        fa, pa = extractor.features_and_probs(data.images[a])
        fb, pb = extractor.features_and_probs(data.images[b])
        results = measure(FeatureSet(fa, pa), FeatureSet(fb, pb), reference_shares, settings,
                          reference.seed)
        smaller = (f", so the floor is at {half:,} samples, not {reference.n:,} (FID is "
                   "higher at fewer samples)" if half < reference.n else "")
        how = {"real_split": reference.split, "real_n": half, "against": f"the other {half:,}",
               "method": f"{reference.dataset}/{reference.split}: two disjoint sets of "
                         f"{half:,} images (seed {reference.seed}), as "
                         + (f"the reference is the bundled copy{smaller}"
                            if reference.split.startswith(BUNDLED_PREFIX)
                            else f"no {FLOOR_SPLIT} split is on disk{smaller}")}
    out = {**how, **results}
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return out
