"""``ganzoo export --hub-dir``: a Hugging Face Hub folder, round-tripped through ``ganzoo import``
and checked with huggingface_hub's own model-card parser (offline)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganzoo.errors import WeightsFileError
from ganzoo.hub import to_yaml, weights_in

pytestmark = [pytest.mark.torch, pytest.mark.slow]

PROTOCOL = {"dataset": "fashion", "n": 500, "seed": 0, "real_split": "bundled-test",
            "real_n": 500, "extractor": {"name": "ganzoo-fashion"}, "metrics": {"k": 3}}
RESULTS = {"fid": 123.5, "kid": 0.125, "precision": 0.5, "recall": 0.25, "is": 3.5,
           "coverage": 0.9, "class_entropy": 2.1, "class_tv": 0.3,
           "floor": {"fid": 1.0}, "class_histogram": [1, 2]}


@pytest.fixture
def trained(tmp_path, monkeypatch, builtin_plugins, cli):
    """A tiny mlp-torch version with one stored evaluation, in a temporary home."""
    from ganzoo.store import RunStore

    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    result = cli("train", "mlp-torch", "--data", "fashion", "--split", "bundled-test",
                 "--epochs", "1", "--max-steps", "2", "--batch-size", "16", "--no-progress")
    assert result.exit_code == 0, result.output
    RunStore().add_evaluation("mlp-torch@1", PROTOCOL, RESULTS)
    return tmp_path


def test_hub_folder_round_trips_and_its_card_parses(trained, cli):
    from huggingface_hub import ModelCard

    folder = trained / "hub"
    result = cli("export", "mlp-torch@1", "--hub-dir", str(folder))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "config.json", "model.safetensors", "samples.png"]
    assert f"hf upload USER/NAME {folder} ." in result.output

    config = json.loads((folder / "config.json").read_text())
    assert config["library_name"] == "ganzoo" and config["family"] == "mlp"
    assert config["exported_from"] == "mlp-torch@1"
    layers = config["architecture"]["generator"]["layers"]
    from ganzoo.catalog import Catalog

    recipe = Catalog.load(plugins=[]).cards["mlp"].recipe(config["recipe"])
    assert [(x.pop("type"), x) for x in layers] == [
        (layer.kind, layer.options) for layer in recipe.generator.layers]
    assert config["architecture"]["generator"]["input_shape"] == [config["latent_dim"]]

    card = ModelCard.load(folder / "README.md")  # a local path: no network
    data = card.data
    assert data.library_name == "ganzoo"
    assert data.license == "mit"  # Fashion-MNIST's licence
    assert "mlp" in data.tags and "fashion" in data.tags
    assert data.model_name == "mlp-torch"
    by_metric = {r.metric_type: r for r in data.eval_results}
    assert by_metric["fid"].metric_value == pytest.approx(123.5)
    assert by_metric["kid"].metric_value == pytest.approx(0.125)
    assert by_metric["fid"].dataset_split == "bundled-test"
    assert by_metric["fid"].metric_args["n"] == 500  # the protocol travels with each metric
    assert "floor" not in by_metric and "class_histogram" not in by_metric
    assert "![fixed-noise samples](samples.png)" in card.text

    result = cli("import", str(folder))
    assert result.exit_code == 0, result.output
    assert "mlp-torch@2" in result.output
    import ganzoo

    original = ganzoo.load("mlp-torch@1").sample(8, seed=3)
    assert np.array_equal(ganzoo.load("mlp-torch@2").sample(8, seed=3), original)
    assert np.array_equal(ganzoo.load(folder).sample(8, seed=3), original)


def test_export_refuses_to_overwrite_a_hub_folder(trained, cli):
    folder = trained / "hub"
    assert cli("export", "mlp-torch@1", "--hub-dir", str(folder)).exit_code == 0
    again = cli("export", "mlp-torch@1", "--hub-dir", str(folder))
    assert again.exit_code == 2 and "--force" in again.output
    assert cli("export", "mlp-torch@1", "--hub-dir", str(folder), "--force").exit_code == 0
    both = cli("export", "mlp-torch@1")
    assert both.exit_code == 2 and "--hub-dir" in both.output


def test_a_folder_whose_config_contradicts_its_weights_is_refused(trained, cli):
    folder = trained / "hub"
    assert cli("export", "mlp-torch@1", "--hub-dir", str(folder)).exit_code == 0
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "family": "dcgan"}))
    with pytest.raises(WeightsFileError, match="family"):
        weights_in(folder)
    result = cli("import", str(folder))
    assert result.exit_code != 0 and "family" in result.output
    (folder / "config.json").unlink()
    result = cli("import", str(folder))
    assert result.exit_code != 0 and "config.json" in result.output


def test_front_matter_writer_round_trips_through_yaml():
    yaml = pytest.importorskip("yaml")
    value = {"a": [{"b": 1, "c": [1.5, "x: y"]}, {"d": None}], "e": "it's \"q\"",
             "f": {}, "g": [], "h": True, "i": {"j": {"k": "-1"}}}
    assert yaml.safe_load(to_yaml(value)) == value
