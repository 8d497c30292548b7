"""``ganzoo train --track mlflow``: a run in a local MLflow store, read back by mlflow."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mlflow")
pytestmark = [pytest.mark.torch, pytest.mark.slow]

TINY = ("--data", "fashion", "--split", "bundled-test", "--epochs", "2", "--max-steps", "3",
        "--batch-size", "16", "--log-every", "1", "--no-progress")


@pytest.fixture
def home(tmp_path, monkeypatch, builtin_plugins):
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("GANZOO_TRACK", raising=False)
    return tmp_path / "home"


def _only_run(uri: str):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("ganzoo")
    assert experiment is not None, "no 'ganzoo' experiment in the store"
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return client, runs[0]


def _all_artifacts(client, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= _all_artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_track_mlflow_logs_params_metrics_grids_plot_and_weights(home, cli):
    result = cli("train", "mlp-torch", *TINY, "--track", "mlflow")
    assert result.exit_code == 0, result.output
    # The default store is a local folder under the ganzoo home: offline, nothing to set up.
    assert (home / "mlflow" / "mlflow.db").is_file()
    client, run = _only_run(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    assert run.info.status == "FINISHED"
    assert run.data.tags["ganzoo.ref"] == "mlp-torch@1"
    params = run.data.params
    assert params["config.model_id"] == "mlp-torch"
    assert params["config.split"] == "bundled-test"
    assert params["config.batch_size"] == "16"
    assert params["recipe.latent_dim"] == "100"
    assert params["recipe.optimizer.generator"]  # the recipe's optimiser, by name

    # Every log interval's metrics, at its global step, equal to ganzoo's own metrics log.
    version = home / "models" / "mlp-torch"
    log = [json.loads(line) for p in version.rglob("metrics.jsonl")
           for line in p.read_text().splitlines()]
    steps = [r for r in log if r["kind"] == "step"]
    assert len(steps) == 6  # 2 epochs x 3 steps, one read-back per step
    loss_keys = sorted(k for k in steps[0] if k.endswith("_loss"))
    assert loss_keys, steps[0]
    history = client.get_metric_history(run.info.run_id, f"train/{loss_keys[0]}")
    assert [m.step for m in history] == [r["global_step"] for r in steps]
    assert [m.value for m in history] == pytest.approx([r[loss_keys[0]] for r in steps])

    artifacts = _all_artifacts(client, run.info.run_id)
    grids = sorted(a for a in artifacts if a.startswith("samples/"))
    assert len(grids) == 2  # one fixed-noise grid per epoch
    assert {"loss.png", "samples.png", "weights/mlp-torch-1.safetensors"} <= artifacts

    # The logged weights are ganzoo's export: loadable, with the version's metadata.
    from ganzoo.weights import read_weights

    local = client.download_artifacts(run.info.run_id, "weights/mlp-torch-1.safetensors",
                                      str(home / "dl"))
    arrays, meta = read_weights(local)
    assert meta["exported_from"] == "mlp-torch@1" and meta["model_id"] == "mlp-torch"
    assert any(k.startswith("generator.") for k in arrays)


def test_env_var_and_tracking_uri_choose_the_tracker_and_the_store(home, cli, tmp_path,
                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)  # mlflow puts a database store's artifacts in ./mlruns
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("GANZOO_TRACK", "mlflow")
    result = cli("train", "mlp-torch", "--data", "fashion", "--split", "bundled-test",
                 "--epochs", "1", "--max-steps", "2", "--batch-size", "16", "--no-progress")
    assert result.exit_code == 0, result.output
    assert not (home / "mlflow").exists()  # MLFLOW_TRACKING_URI wins over the local default
    client, run = _only_run(uri)
    assert run.data.tags["ganzoo.ref"] == "mlp-torch@1"
    assert "weights/mlp-torch-1.safetensors" in _all_artifacts(client, run.info.run_id)


def test_an_unknown_tracker_is_refused_before_training(home, cli):
    result = cli("train", "mlp-torch", *TINY, "--track", "wandb")
    assert result.exit_code == 2
    assert "unknown tracker" in result.output and "mlflow" in result.output
    assert not (home / "models").exists()


def test_missing_mlflow_names_the_extra(home, cli, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    result = cli("train", "mlp-torch", *TINY, "--track", "mlflow")
    assert result.exit_code == 2
    assert "pip install 'ganzoo[mlflow]'" in result.output


def test_a_run_that_ends_in_an_error_is_marked_failed(home):
    from ganzoo.catalog import Catalog
    from ganzoo.store import RunStore
    from ganzoo.training.config import build_config
    from ganzoo.training.mlflow_sink import MLflowSink, default_tracking_uri

    catalog = Catalog.load(plugins=["torch"])
    config = build_config(catalog.model("mlp-torch"), data="fashion", split="bundled-test")
    sink = MLflowSink(catalog, RunStore(), config)
    sink.scalars(3, {"d_loss": 0.5})
    sink.close()  # the loop's finally, without a registered version: an exception
    client, run = _only_run(default_tracking_uri())
    assert run.info.run_id == sink.run_id and run.info.status == "FAILED"
    assert [m.step for m in client.get_metric_history(sink.run_id, "train/d_loss")] == [3]


def test_mlflow_failing_mid_run_never_stops_the_training(home, capsys):
    from ganzoo.catalog import Catalog
    from ganzoo.store import RunStore
    from ganzoo.training.config import build_config
    from ganzoo.training.mlflow_sink import MLflowSink

    catalog = Catalog.load(plugins=["torch"])
    config = build_config(catalog.model("mlp-torch"), data="fashion", split="bundled-test")
    sink = MLflowSink(catalog, RunStore(), config)

    def unreachable(*args, **kwargs):
        raise ConnectionError("tracking server unreachable")

    sink.client.log_batch = unreachable
    sink.scalars(1, {"d_loss": 0.5})
    sink.scalars(2, {"d_loss": 0.4})
    sink.close()
    err = capsys.readouterr().err
    assert err.count("stopped receiving this run") == 1 and "unreachable" in err
