"""Best epoch, not last: a cheap FID every N epochs during training (``--eval-every N``).

Every ``every`` epochs (and after the last one) the training shell asks :class:`EpochEval` to
measure ``n`` images (default :data:`EVAL_N`) from the trainer's current generator against the
dataset's test split (the evaluator of ``ganzoo eval``, at a smaller n: the numbers are
comparable between epochs of one run, not with ``ganzoo eval -n 10000``). The epoch with the
lowest FID is kept as ``best.safetensors`` beside the last weights, its epoch and FID in
``result.json``; a class coverage below :data:`COVERAGE_WARN` prints a warning (the generator
has dropped classes: mode collapse).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.errors import UsageError

EVAL_N = 2000  # generated (and real) images per evaluation
COVERAGE_WARN = 0.5  # warn when fewer than half of the classes are covered
EVAL_SEED_OFFSET = 104729  # the evaluation noise never coincides with training or grid noise
GENERATE_BATCH = 500


class EpochEval:
    """Measures a training run's generator between epochs under one fixed protocol."""

    def __init__(self, catalog: Any, dataset: str, split: str, every: int, *,
                 n: int = EVAL_N, seed: int = 0, data_dir: str | Path | None = None,
                 classes: int | None = None) -> None:
        from ganzoo.evaluation import Evaluator
        from ganzoo.metrics.reference import reference_split_for

        if every < 1:
            raise UsageError(f"--eval-every must be at least 1 epoch, not {every}")
        self.every = every
        self.n = n
        self.seed = seed
        self.classes = classes
        self.evaluator = Evaluator(catalog, dataset, n, seed, data_dir=data_dir,
                                   real_split=reference_split_for(split))

    def due(self, epoch: int, last: int) -> bool:
        """Whether to measure after ``epoch`` (every ``every`` epochs, and the last one)."""
        return epoch % self.every == 0 or epoch == last

    def measure(self, trainer: Any, noise_kind: str, latent_dim: int) -> dict[str, Any]:
        """FID, class coverage and the seconds taken for ``n`` images of ``trainer``."""
        from ganzoo.conditioning import balanced_labels
        from ganzoo.images import to_uint8
        from ganzoo.noise import draw_noise

        start = time.perf_counter()
        noise = draw_noise(noise_kind, self.n, latent_dim, self.seed + EVAL_SEED_OFFSET)
        labels = (None if self.classes is None
                  else balanced_labels(self.n, self.classes, self.seed + EVAL_SEED_OFFSET))
        images = []
        for i in range(0, self.n, GENERATE_BATCH):
            chunk = noise[i:i + GENERATE_BATCH]
            made = (trainer.sample(chunk) if labels is None
                    else trainer.sample(chunk, labels[i:i + GENERATE_BATCH]))
            images.append(to_uint8(np.asarray(made, dtype=np.float32)))
        results = self.evaluator.measure_images(np.concatenate(images))
        return {"fid": float(results["fid"]), "class_coverage": float(results["coverage"]),
                "n": self.n, "eval_s": round(time.perf_counter() - start, 2)}
