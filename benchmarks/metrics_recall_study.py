"""Why k-NN recall reads ~0 for a visibly varied generator: the measurements behind
docs/metrics-validation.md ("The recall mystery").

    GANZOO_DATA=/work/shared/datasets python benchmarks/metrics_recall_study.py --model mlp-torch@1

Compares a trained version's 10,000 samples (drawn as ``ganzoo eval`` draws them, seed 0) with
the Fashion-MNIST test split, beside real train images and disturbed real images, and varies k,
the sample count and the feature dimension (PCA of the real features).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _samples(ref: str, n: int) -> np.ndarray:
    import torch  # noqa: F401  (torch before tensorflow)

    from ganzoo import evaluation
    from ganzoo.cli.console import load_catalog
    from ganzoo.store import RunStore

    record = RunStore().resolve(ref)
    generator, meta = evaluation.load_generator(load_catalog(), record)
    return evaluation.generate(generator, meta, n, 0)


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from ganzoo.metrics import manifold

    b_sq = (b * b).sum(1)
    return np.concatenate([np.sqrt(manifold._sq_distances(a[i:i + 1000], b, b_sq).min(1))
                           for i in range(0, len(a), 1000)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="k-NN recall of a trained generator, dissected")
    ap.add_argument("--model", required=True, help="a registered version, e.g. mlp-torch@1")
    ap.add_argument("-n", type=int, default=10_000)
    args = ap.parse_args(argv)

    from ganzoo.data import load_dataset
    from ganzoo.metrics import disturb, manifold
    from ganzoo.metrics.extractor import load_extractor
    from ganzoo.metrics.fid import fid

    fake_img = _samples(args.model, args.n)
    ex = load_extractor("fashion")
    data_dir = os.environ.get("GANZOO_DATA")
    test = load_dataset(None, "fashion", "test", data_dir=data_dir, download=False)
    train = load_dataset(None, "fashion", "train", data_dir=data_dir, download=False)
    n = min(args.n, len(test))
    real, _ = ex.features_and_probs(test.images[:n])
    fake, _ = ex.features_and_probs(fake_img)
    pick = np.sort(np.random.default_rng(0).choice(len(train), n, replace=False))
    train_img = train.images[pick]
    trainf, _ = ex.features_and_probs(train_img)

    def row(name: str, f: np.ndarray) -> None:
        p, r = manifold.precision_recall(real, f, 3)
        d, c = manifold.density_coverage(real, f)
        print(f"| {name} | {fid(real, f):.2f} | {p:.3f} | {r:.3f} | {d:.3f} | {c:.3f} |",
              flush=True)

    print("| set vs fashion/test | FID | precision | recall | density | coverage |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    row(f"train, {n:,} images", trainf)
    row(f"{args.model}, {n:,} samples", fake)
    for s in (0.05, 0.1):
        noisy = disturb.gaussian_noise(train_img, s, np.random.default_rng(1))
        row(f"train + Gaussian noise σ={s}", ex.features_and_probs(noisy)[0])
    for s in (0.5, 1.0):
        row(f"train blurred σ={s}", ex.features_and_probs(disturb.blur(train_img, s))[0])
    row(f"{args.model} blurred σ=0.5", ex.features_and_probs(disturb.blur(fake_img, 0.5))[0])

    def lap(im: np.ndarray) -> float:
        x = im[..., 0].astype(np.float32) / 255
        d = (4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2]
             - x[:, 1:-1, 2:])
        return float((d ** 2).mean())

    med = {name: float(np.median(np.sqrt(manifold.knn_radii(f, 3))))
           for name, f in (("test", real), ("train", trainf), ("fake", fake))}
    print(f"\npixel noise (mean squared 4-neighbour Laplacian): test {lap(test.images[:n]):.3f}, "
          f"train {lap(train_img):.3f}, {args.model} {lap(fake_img):.3f}")
    print(f"median k=3 radius: test {med['test']:.2f}, train {med['train']:.2f}, "
          f"{args.model} {med['fake']:.2f}")
    print(f"median distance to the nearest sample: test->{args.model} "
          f"{np.median(_nearest(real, fake)):.2f}, test->train "
          f"{np.median(_nearest(real, trainf)):.2f}")
    print(f"mean feature norm: test {np.linalg.norm(real, axis=1).mean():.2f}, "
          f"{args.model} {np.linalg.norm(fake, axis=1).mean():.2f}")
    print("\n| k | precision | recall |\n| ---: | ---: | ---: |")
    for k in (3, 5, 10, 30, 100):
        p, r = manifold.precision_recall(real, fake, k)
        print(f"| {k} | {p:.3f} | {r:.3f} |", flush=True)
    print("\n| n | recall (model) | recall (train) |\n| ---: | ---: | ---: |")
    for m in (1000, 3000, n):
        r = manifold.precision_recall(real[:m], fake[:m], 3)[1]
        rt = manifold.precision_recall(real[:m], trainf[:m], 3)[1]
        print(f"| {m:,} | {r:.3f} | {rt:.3f} |", flush=True)
    mu = real.mean(0)
    vt = np.linalg.svd(real - mu, full_matrices=False)[2]
    print("\n| PCA dims | recall (model) | recall (train) |\n| ---: | ---: | ---: |")
    for dim in (2, 4, 8, 16, 32, real.shape[1]):
        proj = vt[:dim].T
        r = manifold.precision_recall((real - mu) @ proj, (fake - mu) @ proj, 3)[1]
        rt = manifold.precision_recall((real - mu) @ proj, (trainf - mu) @ proj, 3)[1]
        print(f"| {dim} | {r:.3f} | {rt:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
