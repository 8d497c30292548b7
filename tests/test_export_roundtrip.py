"""Export and import that work: the file format, the registered version, the CLI's words.

The backend is the numpy plugin of export_support (a third-party plugin that declares the
mlp family), so these tests are fast and need no framework; test_export_cross_backend does the
same between torch and keras.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from export_support import (
    NumpyGenerator,
    cli_store,
    metadata,
    numpy_catalog,
    random_weights,
    register_version,
    write_file,
)
from PIL import Image
from safetensors import safe_open

from ganzoo.catalog import Catalog
from ganzoo.exchange import export_version, import_file
from ganzoo.noise import draw_noise
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore
from ganzoo.weights import FORMAT_VERSION, read_weights, tensors_digest
from ganzoo.weights.loading import check_file, loaders_for

CATALOG = numpy_catalog()
# The metadata block of docs/weights.md: every key a training run's file carries, plus export's.
DOCUMENTED_KEYS = {
    "format_version", "model_id", "family", "recipe", "backend", "latent_dim", "noise",
    "image_shape", "value_range", "layout", "dataset", "split", "epochs", "batch_size", "seed",
    "ganzoo_version", "card_sha256", "parts", "tensors_sha256",
}
EXPORT_KEYS = {"part", "exported_from"}
IMPORT_KEYS = {"trained_backend", "imported_from"}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    """A fresh registry, also the one the CLI opens, and the numpy catalog for the CLI."""
    return cli_store(tmp_path / "home", monkeypatch, CATALOG)


def _words(text: str) -> str:
    return " ".join(text.split())


def test_an_export_opens_with_plain_safetensors_and_json(store, cli, tmp_path: Path) -> None:
    record = register_version(store, CATALOG)
    out = tmp_path / "mlp.safetensors"
    result = cli("export", "mlp-numpy@1", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert _words(result.output).startswith(
        f"Exported mlp-numpy@1 (generator + discriminator, 225,649 values) to {out}")
    with safe_open(str(out), framework="numpy") as f:
        header = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iter
    meta = json.loads(header["ganzoo"])
    assert header["format"] == "ganzoo-weights"
    assert set(meta) == DOCUMENTED_KEYS | EXPORT_KEYS
    assert meta["format_version"] == FORMAT_VERSION
    assert (meta["family"], meta["recipe"], meta["backend"]) == ("mlp", "seed004", "numpy")
    assert meta["parts"] == ["generator", "discriminator"] and meta["part"] == "all"
    assert meta["exported_from"] == "mlp-numpy@1"
    assert meta["card_sha256"] == CATALOG.cards["mlp"].digest
    assert meta["tensors_sha256"] == tensors_digest(tensors)
    original, _ = read_weights(record.path / "weights.safetensors")
    assert set(tensors) == set(original)
    for name, value in original.items():
        assert tensors[name].dtype == np.float32
        np.testing.assert_array_equal(tensors[name], value)


def test_export_of_one_part(store, tmp_path: Path) -> None:
    register_version(store, CATALOG)
    done = export_version(CATALOG, store, "mlp-numpy", tmp_path / "g.safetensors",
                          part="generator")
    arrays, meta = read_weights(done.path)
    assert done.parts == ("generator",) and done.record.ref == "mlp-numpy@1"
    assert arrays and all(k.startswith("generator.") for k in arrays)
    assert meta["parts"] == ["generator"] and meta["part"] == "generator"
    d = export_version(CATALOG, store, "mlp-numpy@1", tmp_path / "d.safetensors",
                       part="discriminator")
    assert set(read_weights(d.path)[0]) == {k for k in random_weights(
        CATALOG.cards["mlp"].recipe("seed004")) if k.startswith("discriminator.")}


def test_import_registers_a_complete_version_with_samples(store, cli, tmp_path: Path) -> None:
    path = write_file(tmp_path / "from-torch.safetensors", CATALOG, backend="torch",
                      model_id="mlp-torch", exported_from="mlp-torch@4")
    result = cli("import", str(path), "--backend", "numpy")
    assert result.exit_code == 0, result.output
    (record,) = store.list()
    assert _words(result.output).startswith(
        f"Imported {path} as mlp-numpy@1 (mlp, recipe seed004, generator + discriminator; "
        "trained with torch on mnist, 3 epochs).")
    assert (record.model_id, record.backend, record.family, record.recipe) == (
        "mlp-numpy", "numpy", "mlp", "seed004")
    assert (record.status, record.dataset, record.epochs, record.seed) == (
        "complete", "mnist", 3, 5)
    assert record.parent == "import:from-torch.safetensors"
    files = sorted(p.name for p in record.path.iterdir())
    assert files == ["config.json", "samples.png", "version.json", "weights.safetensors"]

    arrays, meta = read_weights(record.path / "weights.safetensors")
    original, _ = read_weights(path)
    assert set(meta) == DOCUMENTED_KEYS | IMPORT_KEYS | {"exported_from"}
    assert (meta["model_id"], meta["backend"], meta["trained_backend"]) == (
        "mlp-numpy", "numpy", "torch")
    assert meta["imported_from"] == "from-torch.safetensors"
    for name in original:
        np.testing.assert_array_equal(arrays[name], original[name])

    config = TrainConfig.from_dict(json.loads((record.path / "config.json").read_text()))
    assert (config.model_id, config.recipe, config.dataset, config.epochs, config.seed) == (
        "mlp-numpy", "seed004", "mnist", 3, 5)

    # The grid shows the chosen backend's images of seed-0 noise, as 'ganzoo sample' makes it.
    grid = np.asarray(Image.open(record.path / "samples.png"))
    sampled = cli("sample", "--weights", str(path), "--backend", "numpy",
                  "-o", str(tmp_path / "s.png"))
    assert sampled.exit_code == 0, sampled.output
    np.testing.assert_array_equal(grid, np.asarray(Image.open(tmp_path / "s.png")))
    by_ref = cli("sample", "mlp-numpy@1", "-o", str(tmp_path / "r.png"))
    assert by_ref.exit_code == 0, by_ref.output
    np.testing.assert_array_equal(grid, np.asarray(Image.open(tmp_path / "r.png")))


def test_the_default_backend_is_the_one_it_was_trained_with(store, cli, tmp_path) -> None:
    path = write_file(tmp_path / "w.safetensors", CATALOG)
    assert cli("import", str(path)).exit_code == 0
    assert [r.ref for r in store.list()] == ["mlp-numpy@1"]
    assert cli("import", str(path)).exit_code == 0  # a second import is a second version
    assert [r.ref for r in store.list()] == ["mlp-numpy@1", "mlp-numpy@2"]


def test_a_generator_only_file_imports_and_samples(store, cli, tmp_path: Path) -> None:
    register_version(store, CATALOG)
    gen = tmp_path / "g.safetensors"
    assert cli("export", "mlp-numpy@1", "-o", str(gen), "--part", "generator").exit_code == 0
    result = cli("import", str(gen))
    assert result.exit_code == 0, result.output
    assert ("note: the file holds the generator only: sampling works, but the discriminator "
            "is absent") in _words(result.output)
    record = store.resolve("mlp-numpy@2")
    assert read_weights(record.path / "weights.safetensors")[1]["parts"] == ["generator"]
    assert cli("sample", "mlp-numpy@2", "-o", str(tmp_path / "s.png")).exit_code == 0


def test_export_import_export_keeps_every_value_and_the_provenance(store, tmp_path) -> None:
    record = register_version(store, CATALOG, seed=3)
    first = export_version(CATALOG, store, record.ref, tmp_path / "a.safetensors")
    imported = import_file(CATALOG, store, first.path)
    assert imported.record is not None and imported.record.ref == "mlp-numpy@2"
    again = export_version(CATALOG, store, imported.record.ref, tmp_path / "b.safetensors")
    a, meta_a = read_weights(first.path)
    b, meta_b = read_weights(again.path)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert meta_b["exported_from"] == "mlp-numpy@2"
    assert meta_b["imported_from"] == "a.safetensors" and meta_b["trained_backend"] == "numpy"
    assert meta_b["tensors_sha256"] == meta_a["tensors_sha256"]


def test_dry_run_checks_and_registers_nothing(store, cli, tmp_path: Path) -> None:
    path = write_file(tmp_path / "w.safetensors", CATALOG)
    result = cli("import", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "Nothing registered (--dry-run)" in _words(result.output)
    assert store.list() == []


def test_a_changed_card_is_a_note_not_an_error(store, cli, tmp_path: Path) -> None:
    path = write_file(tmp_path / "w.safetensors", CATALOG, card_sha256="0" * 64)
    result = cli("import", str(path))
    assert result.exit_code == 0, result.output
    assert "note: the mlp card changed since these weights were trained" in _words(result.output)


def test_the_imported_generator_is_the_plugins_own(store, tmp_path: Path) -> None:
    """A third-party plugin loads files through the same functions as the built-in ones."""
    recipe = CATALOG.cards["mlp"].recipe("seed002")  # with batch-norm statistics
    arrays = random_weights(recipe, seed=9)
    path = write_file(tmp_path / "w.safetensors", CATALOG, recipe="seed002", arrays=arrays)
    done = import_file(CATALOG, store, path)
    assert done.spec.model_id == "mlp-numpy" and done.spec.plugin == "numpy"
    noise = draw_noise(recipe.noise, 4, recipe.latent_dim, 0)
    from ganzoo.sampling import load_generator_from_file

    assert done.record is not None
    generator, _ = load_generator_from_file(CATALOG, done.record.path / "weights.safetensors")
    expected = NumpyGenerator(recipe, arrays).generate(noise)
    np.testing.assert_array_equal(generator.generate(noise), expected)


def test_loaders_for_lists_the_models_of_a_family_by_backend() -> None:
    assert [m.model_id for m in loaders_for(CATALOG, "mlp")] == ["mlp-numpy"]
    assert loaders_for(CATALOG, "dcgan") == []
    builtin = Catalog.load(plugins=["torch", "keras"], extra=[("numpy", _numpy_plugin())])
    assert [m.model_id for m in loaders_for(builtin, "mlp")] == [
        "mlp-keras", "mlp-numpy", "mlp-torch"]
    assert [m.backend for m in loaders_for(builtin, "dcgan")] == ["keras", "torch"]


def _numpy_plugin():
    from export_support import NumpyPlugin

    return NumpyPlugin()


def test_check_file_reports_what_it_checked(tmp_path: Path) -> None:
    path = write_file(tmp_path / "w.safetensors", CATALOG, recipe="seed002")
    checked = check_file(CATALOG, path)
    assert checked.card.family == "mlp" and checked.recipe.name == "seed002"
    assert checked.parts == ("generator", "discriminator") and checked.notes == ()
    assert checked.trained_backend == "numpy"
    assert checked.meta == {**metadata(CATALOG, recipe="seed002"), "format_version": 1,
                            "tensors_sha256": tensors_digest(checked.arrays)}


def test_exporting_imports_no_framework(tmp_path: Path) -> None:
    """Export is a file operation: listing, checking and writing never import torch or TF."""
    home = tmp_path / "home"
    work = RunStore(home).new_workdir()
    write_file(work / "weights.safetensors", CATALOG, recipe="seed002",
               backend="torch", model_id="mlp-torch")
    RunStore(home).register(work, {
        "model_id": "mlp-torch", "status": "complete", "family": "mlp", "backend": "torch",
        "recipe": "seed002", "dataset": "mnist", "split": "train", "epochs": 3, "steps": 1,
        "seed": 0, "wall_time_s": 0.0, "images_per_s": 0.0, "final_metrics": {},
        "parent": None})
    out_file = str(tmp_path / "x.safetensors")
    code = textwrap.dedent(f"""
        import sys
        from typer.testing import CliRunner
        from ganzoo.cli.app import app
        result = CliRunner().invoke(app, ["export", "mlp-torch@1", "-o", {out_file!r}])
        assert result.exit_code == 0, result.output
        print(sorted(m for m in ("torch", "tensorflow", "keras") if m in sys.modules))
    """)
    env = {**os.environ, "GANZOO_HOME": str(home), "GANZOO_PLUGINS": "torch,keras"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
