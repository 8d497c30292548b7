"""Seconds per stage of ``ganzoo eval -n N``: generation, features, FID, KID, P/R, D/C, classes.

The stages are ganzoo's own functions, called as :class:`ganzoo.evaluation.Evaluator` calls
them, on ``N`` generated images (a freshly initialised generator of ``--model``'s card: the
cost of generation does not depend on training) and ``N`` real test images:

    python benchmarks/eval_stages.py                    # fashion, n 10000, dcgan-torch
    python benchmarks/eval_stages.py -n 2000 --model mlp-torch --json out.json

``end to end`` is the sum of what ``ganzoo eval`` does for a version when nothing is cached:
reference features, generation, features of the generated set, every metric, and the floor
(real train images against the reference: a second feature pass and every metric again).
Each stage is timed once (``--repeats`` for a median); the load average is printed beside.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall seconds of ``fn()`` over ``repeats`` calls, and its last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def torch_generator(model_id: str) -> tuple[Any, dict[str, Any]]:
    """An untrained generator of the model's card with ganzoo's ``generate`` interface."""
    import torch

    from ganzoo.catalog import Catalog
    from ganzoo_torch import build_network, to_nhwc_numpy

    recipe = Catalog.load().model(model_id).card.recipe(None)
    torch.manual_seed(0)
    net = build_network(recipe.generator).eval()

    class Generator:
        def generate(self, noise: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return to_nhwc_numpy(net(torch.from_numpy(np.asarray(noise, np.float32))))

    meta = {"noise": recipe.noise, "latent_dim": recipe.latent_dim,
            "image_shape": list(recipe.image_shape)}
    return Generator(), meta


def stages(dataset: str, n: int, model_id: str, repeats: int) -> dict[str, float]:
    """Seconds of each stage (median of ``repeats``)."""
    from ganzoo import evaluation
    from ganzoo.catalog import Catalog
    from ganzoo.metrics import classes, kid, manifold
    from ganzoo.metrics.extractor import load_extractor
    from ganzoo.metrics.fid import frechet_distance, gaussian_stats
    from ganzoo.metrics.reference import _load
    from ganzoo.metrics.suite import MetricSettings

    catalog = Catalog.load()
    settings = MetricSettings()
    out: dict[str, float] = {}
    out["load extractor"], extractor = timed(lambda: load_extractor(dataset), repeats)
    data = _load(catalog, dataset, "test", None)
    real_images = data.images[:n]
    generator, meta = torch_generator(model_id)
    out["generation"], fake_images = timed(
        lambda: evaluation.generate(generator, meta, n, 0), repeats)
    out["features (real)"], (real, _) = timed(
        lambda: extractor.features_and_probs(real_images), repeats)
    out["features (generated)"], (fake, fake_probs) = timed(
        lambda: extractor.features_and_probs(fake_images), repeats)
    out["FID"], _ = timed(lambda: frechet_distance(gaussian_stats(real), gaussian_stats(fake)),
                          repeats)
    out["KID"], _ = timed(lambda: kid.kid(real, fake, settings.kid_subset_size,
                                          settings.kid_subsets, 0), repeats)
    out["precision/recall"], _ = timed(
        lambda: manifold.precision_recall(real, fake, settings.pr_k), repeats)
    out["density/coverage"], _ = timed(
        lambda: manifold.density_coverage(real, fake, settings.dc_k), repeats)
    shares = classes.class_shares(data.labels[:n], extractor.num_classes)
    out["IS + class coverage"], _ = timed(
        lambda: (classes.inception_like_score(fake_probs, settings.is_splits),
                 classes.class_coverage(fake_probs, shares, settings.coverage_min_share)),
        repeats)
    metrics = sum(out[k] for k in ("FID", "KID", "precision/recall", "density/coverage",
                                   "IS + class coverage"))
    # Uncached: reference features, then generation, features and metrics of the version,
    # then the floor (one more feature pass over real images and the metrics again).
    out["end to end (uncached, with floor)"] = (
        out["load extractor"] + out["features (real)"] + out["generation"]
        + out["features (generated)"] + metrics + out["features (real)"] + metrics)
    out["end to end (reference and floor cached)"] = (
        out["load extractor"] + out["generation"] + out["features (generated)"] + metrics)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--data", default="fashion")
    parser.add_argument("--model", default="dcgan-torch")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    out = stages(args.data, args.n, args.model, args.repeats)
    end = os.getloadavg()
    print(f"{args.data}, n {args.n:,}, generator {args.model} (untrained), "
          f"median of {args.repeats}; load average {load[0]:.1f} -> {end[0]:.1f} on "
          f"{len(os.sched_getaffinity(0))} CPUs")
    for name, seconds in out.items():
        print(f"{name:42} {seconds:8.2f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"n": args.n, "data": args.data, "model": args.model,
                       "load_average": [load[0], end[0]], "seconds": out}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
