"""ganzoo.training.config: the one TrainConfig built from a recipe, and a run's length in words."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from export_support import metadata, numpy_catalog, random_weights

from ganzoo.errors import UsageError
from ganzoo.exchange import import_file
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore
from ganzoo.store.layout import CONFIG_NAME
from ganzoo.training.config import build_config, epochs_text
from ganzoo.weights import write_weights

CATALOG = numpy_catalog()
SPEC = CATALOG.model("mlp-numpy")


def test_none_means_the_recipes_default() -> None:
    recipe = SPEC.card.recipe("seed004")
    config = build_config(SPEC, recipe="seed004")
    assert (config.recipe, config.dataset, config.epochs, config.batch_size) == (
        "seed004", recipe.dataset, recipe.epochs, recipe.batch_size)
    assert (config.split, config.seed, config.device, config.max_steps) == (
        "train", 0, "auto", None)


def test_given_values_win() -> None:
    config = build_config(SPEC, recipe="seed004", data="fashion", split="test", epochs=7,
                          batch_size=3, seed=9, max_steps=2)
    assert (config.dataset, config.split, config.epochs, config.batch_size, config.seed,
            config.max_steps) == ("fashion", "test", 7, 3, 9, 2)


def test_an_unknown_recipe_is_a_usage_error() -> None:
    with pytest.raises(Exception, match="nosuch"):
        build_config(SPEC, recipe="nosuch")
    with pytest.raises(UsageError):
        build_config(SPEC, device="tpu")


@pytest.mark.parametrize(("n", "words"), [(0, "0 epochs"), (1, "1 epoch"), (2, "2 epochs")])
def test_epochs_text(n: int, words: str) -> None:
    assert epochs_text(n) == words


def test_an_imported_file_that_says_little_gets_the_recipes_defaults(tmp_path: Path) -> None:
    recipe = SPEC.card.recipe("seed004")
    meta = metadata(CATALOG)
    for key in ("epochs", "batch_size", "dataset", "split", "seed"):
        meta.pop(key)
    path = write_weights(tmp_path / "bare.safetensors", random_weights(recipe), meta)
    imported = import_file(CATALOG, RunStore(tmp_path / "home"), path)
    config = TrainConfig.from_dict(json.loads((imported.record.path / CONFIG_NAME).read_text()))
    assert config == replace(build_config(SPEC, recipe="seed004"), epochs=0)
    assert (config.epochs, config.batch_size, config.dataset) == (
        0, recipe.batch_size, recipe.dataset)
    assert imported.record.epochs == 0


def test_an_imported_file_keeps_what_its_metadata_says(tmp_path: Path) -> None:
    recipe = SPEC.card.recipe("seed004")
    meta = metadata(CATALOG, batch_size=recipe.batch_size + 1, split="test")
    path = write_weights(tmp_path / "full.safetensors", random_weights(recipe), meta)
    imported = import_file(CATALOG, RunStore(tmp_path / "home"), path)
    config = json.loads((imported.record.path / CONFIG_NAME).read_text())
    assert (config["epochs"], config["batch_size"], config["dataset"], config["split"],
            config["seed"]) == (3, recipe.batch_size + 1, "mnist", "test", 5)
