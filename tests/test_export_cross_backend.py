"""Train in one backend, export, load in the other: the same noise gives the same images.

For every family (and mlp's seed004 recipe, the one without batch-norm but with dropout), a
tiny state is trained for two steps (so batch-norm statistics are not their initial values),
written as a training run writes it, and loaded by the other backend twice: straight from the
file (``ganzoo sample --weights``'s path) and through export and import of a registered
version. Generator images and discriminator logits must agree within 1e-4 (float32, eval mode).
Both frameworks run in this one process: torch first, tensorflow only through
``ganzoo.frameworks``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ganzoo.cards import builtin_cards
from ganzoo.catalog import Catalog
from ganzoo.exchange import export_version, import_file
from ganzoo.noise import draw_noise
from ganzoo.protocols import TrainConfig
from ganzoo.sampling import load_generator_from_file
from ganzoo.store import RunStore
from ganzoo.weights import WEIGHTS_NAME, read_weights, select_part, write_weights
from ganzoo.weights.metadata import weights_metadata

pytestmark = [
    pytest.mark.slow,
    pytest.mark.torch,
    pytest.mark.keras,
    pytest.mark.skipif(
        importlib.util.find_spec("torch") is None
        or importlib.util.find_spec("tensorflow") is None,
        reason="needs both the torch and the keras extra",
    ),
]

TOLERANCE = 1e-4
CASES = [("mlp", "seed002"), ("dcgan", "seed000"), ("combined", "seed001"), ("mlp", "seed004")]
# Every other card's default recipe (the families of issue 13 and any added since), except
# conditional ones: their trainers and generators also take labels (their own tests).
CASES += sorted((card.family, card.default_recipe) for card in builtin_cards()
                if card.family not in {family for family, _ in CASES}
                and getattr(card.recipe().generator, "label", None) is None)
DIRECTIONS = [("torch", "keras"), ("keras", "torch")]


def random_uint8_images(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    from ganzoo.frameworks import import_tensorflow

    import_tensorflow()  # imports torch first: the one order that is safe in one process
    return Catalog.load(plugins=["torch", "keras"])


def _train_two_steps(catalog: Catalog, family: str, recipe_name: str, backend: str):
    spec = catalog.model(f"{family}-{backend}")
    recipe = spec.card.recipe(recipe_name)
    config = TrainConfig(model_id=spec.model_id, recipe=recipe.name, dataset="fashion",
                         epochs=1, batch_size=16, seed=11, device="cpu", log_every=2,
                         max_steps=2)
    # Two steps of d_steps_per_g batches of 16 each (64 images at least).
    images = random_uint8_images(max(64, 2 * 16 * recipe.d_steps_per_g))
    trainer = spec.load_backend().create_trainer(recipe, config, images)
    trainer.run_steps(0, 0, 2)
    return spec, recipe, config, trainer


def _register(store: RunStore, spec, config: TrainConfig, arrays: dict) -> str:
    work = store.new_workdir()
    write_weights(work / WEIGHTS_NAME, arrays, weights_metadata(spec, config, 1))
    return store.register(work, {
        "model_id": spec.model_id, "status": "complete", "family": spec.family,
        "backend": spec.backend, "recipe": config.recipe, "dataset": config.dataset,
        "split": config.split, "epochs": 1, "steps": 2, "seed": config.seed,
        "wall_time_s": 0.0, "images_per_s": 0.0, "final_metrics": {}, "parent": None,
    }).ref


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    assert a.shape == b.shape
    return float(np.abs(a - b).max())


@pytest.mark.parametrize(("source", "target"), DIRECTIONS, ids=lambda b: b)
@pytest.mark.parametrize(("family", "recipe_name"), CASES, ids=lambda v: v)
def test_same_noise_gives_the_same_images_in_the_other_backend(
        catalog: Catalog, tmp_path: Path, family: str, recipe_name: str, source: str,
        target: str) -> None:
    spec, recipe, config, trainer = _train_two_steps(catalog, family, recipe_name, source)
    arrays = trainer.weights()
    for name, value in arrays.items():  # the test means something only if BN stats moved
        if name.endswith("running_var"):
            assert np.abs(value - 1).max() > 1e-3, name
        if name.endswith("running_mean"):
            assert np.abs(value).max() > 1e-3, name
    noise = draw_noise(recipe.noise, 32, recipe.latent_dim, 123)
    expected = trainer.sample(noise)

    # 1. Straight from the file a training run writes ('ganzoo sample --weights ... --backend').
    trained_file = tmp_path / "trained.safetensors"
    write_weights(trained_file, arrays, weights_metadata(spec, config, 1))
    direct, meta = load_generator_from_file(catalog, trained_file, backend=target)
    assert meta["backend"] == source
    direct_diff = _max_diff(direct.generate(noise), expected)

    # 2. Through the registry: export the source version, import it for the target backend.
    store = RunStore(tmp_path / "home")
    ref = _register(store, spec, config, arrays)
    exported = export_version(catalog, store, ref, tmp_path / "export.safetensors")
    imported = import_file(catalog, store, exported.path, backend=target)
    assert imported.record is not None
    assert imported.record.model_id == f"{family}-{target}"
    version_file = imported.record.path / WEIGHTS_NAME
    via_import, version_meta = load_generator_from_file(catalog, version_file)
    assert (version_meta["backend"], version_meta["trained_backend"]) == (target, source)
    import_diff = _max_diff(via_import.generate(noise), expected)

    # 3. The discriminators agree on generated and on random images.
    file_arrays, _ = read_weights(version_file)
    d_source = catalog.model(f"{family}-{source}").load_backend().load_discriminator(
        recipe, select_part(arrays, "discriminator"))
    d_target = catalog.model(f"{family}-{target}").load_backend().load_discriminator(
        recipe, select_part(file_arrays, "discriminator"))
    images = np.concatenate([
        expected,
        np.random.default_rng(5).uniform(-1, 1, (16, *recipe.image_shape)).astype(np.float32),
    ])
    logits_diff = _max_diff(d_target.logits(images), d_source.logits(images))

    print(f"\n{family}/{recipe_name} {source}->{target}: generator max|diff| file "
          f"{direct_diff:.2e}, after export+import {import_diff:.2e}; discriminator logits "
          f"{logits_diff:.2e}")
    assert direct_diff < TOLERANCE
    assert import_diff < TOLERANCE
    assert logits_diff < TOLERANCE
