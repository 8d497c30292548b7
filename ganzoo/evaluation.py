"""Evaluating registered versions: generate, extract features, measure, record with a protocol.

Generation goes through :func:`ganzoo.weights.generators.load_version_generator`, so a version
is evaluated with whichever backend trained it (its weights checked against the index first);
everything after the generator is numpy. An :class:`Evaluator` holds what every model of one
comparison shares (extractor, real reference, floor), so ``compare`` computes those once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.catalog import Catalog
from ganzoo.errors import GanzooError
from ganzoo.images import to_uint8
from ganzoo.metrics.classes import class_shares
from ganzoo.metrics.conditional import conditional_metrics
from ganzoo.metrics.extractor import load_extractor
from ganzoo.metrics.fid import gaussian_stats
from ganzoo.metrics.protocol import make_protocol, protocol_key
from ganzoo.metrics.reference import REFERENCE_SPLIT, floor, real_features
from ganzoo.metrics.suite import FeatureSet, MetricSettings, measure
from ganzoo.noise import draw_noise
from ganzoo.protocols import Generator
from ganzoo.store import VersionRecord
from ganzoo.weights import generators

DEFAULT_N = 10_000
GENERATE_BATCH = 500  # images per generate() call: bounded memory on any backend


@dataclass(frozen=True)
class Evaluation:
    """The results of one version under one protocol (``reused``: read from the registry)."""

    ref: str
    protocol: dict[str, Any]
    results: dict[str, Any]
    reused: bool = False

    @property
    def key(self) -> str:
        return protocol_key(self.protocol)


def load_generator(catalog: Catalog, record: VersionRecord) -> tuple[Generator, dict[str, Any]]:
    """The version's generator, built by the backend it was trained with, and its metadata."""
    return generators.load_version_generator(catalog, record)


def generate(generator: Generator, meta: dict[str, Any], n: int, seed: int) -> np.ndarray:
    """``n`` images (N, H, W, C) uint8 from the model's own noise distribution and ``seed``
    (a class-conditional model: for :func:`ganzoo.conditioning.balanced_labels`)."""
    return generate_labelled(generator, meta, n, seed)[0]


def generate_labelled(generator: Generator, meta: dict[str, Any], n: int, seed: int
                      ) -> tuple[np.ndarray, np.ndarray | None]:
    """``n`` uint8 images and the labels they were drawn for (None: unconditional); a
    conditional model is asked for every class equally often, in a seeded order."""
    from ganzoo.conditioning import balanced_labels

    noise = draw_noise(meta["noise"], n, int(meta["latent_dim"]), seed)
    classes = getattr(generator, "classes", None)
    labels = None if classes is None else balanced_labels(n, classes, seed)
    shape = tuple(meta.get("image_shape") or (28, 28, 1))
    out = np.empty((n, *shape), dtype=np.uint8)
    for i in range(0, n, GENERATE_BATCH):
        chunk = noise[i:i + GENERATE_BATCH]
        made = (generator.generate(chunk) if labels is None
                else generator.generate(chunk, labels[i:i + GENERATE_BATCH]))
        images = np.asarray(made, dtype=np.float32)
        if images.shape[1:] != shape:
            raise GanzooError(f"the generator made images of shape {images.shape[1:]}, its "
                              f"weights file says {shape}")
        if not np.isfinite(images).all():
            raise GanzooError("the generator produced NaN or infinite pixels; the version "
                              "cannot be evaluated")
        out[i:i + GENERATE_BATCH] = to_uint8(images)
    return out, labels


def find_stored(record: VersionRecord, protocol: dict[str, Any]) -> Evaluation | None:
    """The latest evaluation of ``record`` stored under a protocol comparable to ``protocol``."""
    key = protocol_key(protocol)
    for stored in reversed(record.evaluations):
        if protocol_key(stored["protocol"]) == key:
            return Evaluation(record.ref, stored["protocol"], stored["results"], reused=True)
    return None


def latest_stored(record: VersionRecord) -> Evaluation | None:
    """The latest evaluation of ``record``, whatever its protocol."""
    if not record.evaluations:
        return None
    stored = record.evaluations[-1]
    return Evaluation(record.ref, stored["protocol"], stored["results"], reused=True)


class Evaluator:
    """Evaluates generators on one dataset under one protocol (n, seed, metric settings).

    ``real_split`` is the reference: ``test`` (on disk, else its bundled copy) or a bundled
    split such as ``bundled-test`` (read from the package only; the floor then comes from two
    halves of it, so the numbers are the same on any machine). See
    :func:`ganzoo.metrics.reference.reference_split_for`.
    """

    def __init__(self, catalog: Catalog, dataset: str, n: int = DEFAULT_N, seed: int = 0,
                 settings: MetricSettings | None = None, data_dir: str | Path | None = None,
                 cache: bool = True, real_split: str = REFERENCE_SPLIT) -> None:
        if n < 10:
            raise GanzooError(f"-n {n} is too few images to measure anything; use at least 10")
        self.catalog = catalog
        self.dataset = dataset
        self.n = n
        self.seed = seed
        self.settings = settings or MetricSettings()
        self.data_dir = data_dir
        self.cache = cache
        self.extractor = load_extractor(dataset)
        self.real_split = real_split  # test (on disk, else bundled) or bundled-test
        self.reference = real_features(catalog, dataset, real_split, n, seed,
                                       self.extractor, data_dir, cache)
        self.shares = class_shares(self.reference.labels, self.extractor.num_classes)
        self.stats = gaussian_stats(self.reference.feats.features)
        self.protocol = make_protocol(
            dataset=dataset, n=n, seed=seed, real_split=real_split,
            real_n=self.reference.n, real_source=self.reference.source,
            extractor=self.extractor, settings=self.settings)

    @cached_property
    def floor(self) -> dict[str, Any]:
        """Real images against the same reference (see :func:`ganzoo.metrics.reference.floor`)."""
        return floor(self.catalog, self.reference, self.extractor, self.settings, self.shares,
                     self.data_dir, self.cache)

    def measure_images(self, images: np.ndarray, labels: np.ndarray | None = None,
                       classes: int | None = None) -> dict[str, Any]:
        """Every metric of ``images`` (uint8, or float in [-1, 1]) against the reference.

        ``labels`` (with ``classes``): the classes a conditional generator was asked for;
        adds ``conditional`` (label accuracy, per-class FID: :mod:`ganzoo.metrics.conditional`).
        """
        features, probs = self.extractor.features_and_probs(images)
        results = measure(FeatureSet(features, probs), self.reference.feats, self.shares,
                          self.settings, self.seed, self.stats)
        if labels is not None:
            results["conditional"] = conditional_metrics(
                features, probs, labels, self.reference.feats.features, self.reference.labels,
                int(classes or self.extractor.num_classes))
        return results

    def evaluate(self, record: VersionRecord) -> Evaluation:
        """Generate ``n`` images with the version's generator and measure them (a conditional
        one also for label accuracy and per-class FID)."""
        started = time.perf_counter()
        generator, meta = load_generator(self.catalog, record)
        images, labels = generate_labelled(generator, meta, self.n, self.seed)
        generated = time.perf_counter()
        results = self.measure_images(images, labels, getattr(generator, "classes", None))
        results["floor"] = self.floor
        results["timing_s"] = {"generate": round(generated - started, 2),
                               "measure": round(time.perf_counter() - generated, 2)}
        return Evaluation(record.ref, self.protocol, results)
