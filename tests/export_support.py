"""Helpers for the export/import tests (this module holds no tests).

``NumpyPlugin`` is a third-party plugin in miniature: it declares that it loads the ``mlp``
family (by registering ``mlp-numpy``) and implements the Backend's loading half in plain numpy
from the canonical layouts of docs/weights.md. The export/import functions treat it exactly as
they treat torch and keras, so tests of the file format need no framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ganzoo.cli.export_cmd
import ganzoo.cli.train_cmd
from ganzoo.architecture import NetSpec
from ganzoo.catalog import Catalog
from ganzoo.hookspecs import hookimpl
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore, VersionRecord
from ganzoo.weights import WEIGHTS_NAME, write_weights
from ganzoo.weights.metadata import weights_metadata


def forward(net: NetSpec, prefix: str, weights: Mapping[str, np.ndarray],
            x: np.ndarray) -> np.ndarray:
    """Evaluate a dense network spec on a batch (eval mode), reading canonical tensors."""
    x = np.asarray(x, dtype=np.float64)
    for i, layer in enumerate(net.layers):
        name = f"{prefix}.{i}"
        if layer.kind == "dense":
            x = x @ weights[f"{name}.weight"].T  # canonical dense weight: (out, in)
            if layer["bias"]:
                x = x + weights[f"{name}.bias"]
        elif layer.kind == "batch_norm":
            scale = weights[f"{name}.weight"] / np.sqrt(weights[f"{name}.running_var"]
                                                        + layer["epsilon"])
            x = (x - weights[f"{name}.running_mean"]) * scale + weights[f"{name}.bias"]
        elif layer.kind == "leaky_relu":
            x = np.where(x > 0, x, layer["slope"] * x)
        elif layer.kind == "relu":
            x = np.maximum(x, 0)
        elif layer.kind == "tanh":
            x = np.tanh(x)
        elif layer.kind == "sigmoid":
            x = 1 / (1 + np.exp(-x))
        elif layer.kind == "reshape":
            x = x.reshape(len(x), *layer["shape"])  # channels-last, row-major
        elif layer.kind == "flatten":
            x = x.reshape(len(x), -1)
        elif layer.kind == "dropout":
            pass  # identity in eval mode
        else:  # pragma: no cover - the numpy plugin only declares the dense family
            raise NotImplementedError(layer.kind)
    return x.astype(np.float32)


class NumpyGenerator:
    def __init__(self, recipe: Any, weights: Mapping[str, np.ndarray]) -> None:
        self.recipe = recipe
        self.weights = dict(weights)
        self.latent_dim = recipe.latent_dim

    def generate(self, noise: np.ndarray) -> np.ndarray:
        return forward(self.recipe.generator, "generator", self.weights, noise)


class NumpyDiscriminator:
    def __init__(self, recipe: Any, weights: Mapping[str, np.ndarray]) -> None:
        self.recipe = recipe
        self.weights = dict(weights)

    def logits(self, images: np.ndarray) -> np.ndarray:
        return forward(self.recipe.discriminator, "discriminator", self.weights,
                       images).reshape(-1)


class NumpyBackend:
    """Only the loading half of ``ganzoo.protocols.Backend``: all that import and sample use."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec

    def load_generator(self, recipe: Any, weights: Mapping[str, np.ndarray]) -> NumpyGenerator:
        return NumpyGenerator(recipe, weights)

    def load_discriminator(self, recipe: Any,
                           weights: Mapping[str, np.ndarray]) -> NumpyDiscriminator:
        return NumpyDiscriminator(recipe, weights)


def create_backend(spec: Any) -> NumpyBackend:
    return NumpyBackend(spec)


class NumpyPlugin:
    """Declares the families it loads by registering ``<family>-numpy`` models."""

    @hookimpl
    def register_models(self, register):
        register(family="mlp", backend="numpy", factory="export_support:create_backend")


def numpy_catalog() -> Catalog:
    """The built-in cards and the numpy plugin only: no framework is ever imported."""
    return Catalog.load(entry_points=False, extra=[("numpy", NumpyPlugin())])


def cli_store(home: Path, monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> RunStore:
    """A fresh registry at ``home``, also the one the CLI opens, with ``catalog`` as its catalog."""
    monkeypatch.setenv("GANZOO_HOME", str(home))
    monkeypatch.setattr(ganzoo.cli.export_cmd, "load_catalog", lambda: catalog)
    monkeypatch.setattr(ganzoo.cli.train_cmd, "load_catalog", lambda: catalog)
    return RunStore(home)


def random_weights(recipe: Any, seed: int = 0,
                   parts: tuple[str, ...] = ("generator", "discriminator")) -> dict:
    """Card-shaped tensors; BN variances positive, as real statistics are."""
    rng = np.random.default_rng(seed)
    out = {}
    for part in parts:
        for name, shape in getattr(recipe, part).tensor_shapes(part).items():
            value = rng.standard_normal(shape).astype(np.float32) * 0.1
            if name.endswith("running_var"):
                value = np.abs(value) + 0.5
            out[name] = value
    return out


def metadata(catalog: Catalog, recipe: str = "seed004", **changes: Any) -> dict[str, Any]:
    """A training run's metadata block for ``mlp-numpy`` (``changes`` override keys)."""
    spec = catalog.model("mlp-numpy")
    config = TrainConfig(model_id=spec.model_id, recipe=recipe, dataset="mnist", seed=5)
    return {**weights_metadata(spec, config, 3), **changes}


def write_file(path: Path, catalog: Catalog, recipe: str = "seed004", seed: int = 0,
               arrays: dict | None = None, **changes: Any) -> Path:
    """A valid weights file of the mlp family (as trained by ``mlp-numpy``)."""
    spec = catalog.model("mlp-numpy")
    arrays = random_weights(spec.card.recipe(recipe), seed) if arrays is None else arrays
    return write_weights(path, arrays, metadata(catalog, recipe=recipe, **changes))


def register_version(store: RunStore, catalog: Catalog, recipe: str = "seed004",
                     seed: int = 0) -> VersionRecord:
    """A registered version of ``mlp-numpy``, as the training loop would leave it."""
    work = store.new_workdir()
    write_file(work / WEIGHTS_NAME, catalog, recipe, seed)
    return store.register(work, {
        "model_id": "mlp-numpy", "status": "complete", "family": "mlp", "backend": "numpy",
        "recipe": recipe, "dataset": "mnist", "split": "train", "epochs": 3, "steps": 30,
        "seed": 5, "wall_time_s": 1.0, "images_per_s": 10.0, "final_metrics": {},
        "parent": None,
    })
