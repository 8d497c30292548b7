"""The Python API, used as a notebook would: train, load, sample, evaluate, compare through
``ganzoo.*`` alone, on the bundled split (offline, tiny)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

import ganzoo
from ganzoo.errors import UnknownModelError, UsageError

N = 100  # generated images per evaluation: enough for the numbers to exist, fast


def test_import_and_listing_import_no_framework():
    code = ("import sys, ganzoo; ids = ganzoo.models('dcgan-*'); "
            "assert ids == ['dcgan-keras', 'dcgan-torch'], ids; "
            "assert ganzoo.models('nothing-*') == []; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'mlflow') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ,
                                            "GANZOO_PLUGINS": "torch,keras"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_models_filters_like_list_models(builtin_plugins):
    assert ganzoo.models("*-torch") == sorted(ganzoo.models("*-torch"))
    assert all(m.endswith("-torch") for m in ganzoo.models("*-torch"))
    assert set(ganzoo.models("mlp-*")) == {"mlp-torch", "mlp-keras"}
    assert set(ganzoo.models()) >= {"mlp-torch", "dcgan-torch", "mlp-keras"}


@pytest.mark.torch
@pytest.mark.slow
def test_a_notebook_trains_loads_samples_evaluates_and_compares(tmp_path, monkeypatch,
                                                                builtin_plugins, cli):
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GANZOO_TRACK", raising=False)
    tiny = {"data": "fashion", "split": "bundled-test", "epochs": 1, "max_steps": 2,
            "batch_size": 16, "progress": False}

    record = ganzoo.train("mlp-torch", **tiny)
    assert record.ref == "mlp-torch@1" and record.status == "complete"
    assert record.steps == 2 and record.split == "bundled-test"
    ganzoo.train("dcgan-torch", **tiny)

    g = ganzoo.load("mlp-torch@latest")
    assert g.ref == "mlp-torch@1" and g.image_shape == (28, 28, 1)
    images = g.sample(5, seed=1)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
    raw = g.sample(5, seed=1, dtype="float32")
    assert raw.dtype == np.float32 and raw.min() >= -1.0 and raw.max() <= 1.0
    assert np.array_equal(images, np.clip(np.rint((raw + 1) * 127.5), 0, 255).astype(np.uint8))
    assert np.array_equal(g.sample(5, seed=1), images)  # a seed fixes the images
    assert not np.array_equal(g.sample(5, seed=2), images)
    assert g.sample(3, seed=1).tolist() == images[:3].tolist()  # same noise, prefix of n
    with pytest.raises(UsageError, match="unconditional"):
        g.sample(2, label=3)
    picture = g.grid(16, seed=0)
    assert picture.size == (2 * (4 * 30 + 2), 2 * (4 * 30 + 2))  # 4x4 tiles, pad 2, scale 2

    # The same seed gives the same pixels as the CLI's sample grid.
    out = tmp_path / "cli.png"
    assert cli("sample", "mlp-torch@1", "-n", "16", "--seed", "0", "-o", str(out)).exit_code == 0
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(picture))

    # A weights file written by export loads too, and samples the same images.
    exported = tmp_path / "g.safetensors"
    assert cli("export", "mlp-torch@1", "-o", str(exported)).exit_code == 0
    assert np.array_equal(ganzoo.load(exported).sample(5, seed=1), images)
    assert np.array_equal(ganzoo.load(str(exported)).sample(5, seed=1), images)

    result = ganzoo.evaluate("mlp-torch@1", n=N)
    assert result.ref == "mlp-torch@1" and result.real_split == "bundled-test"
    assert result["fid"] == result.results["fid"] > 0
    assert result.protocol["n"] == N
    # The same fields, and the same numbers, as the CLI's --json.
    cli_eval = cli("eval", "mlp-torch@1", "-n", str(N), "--json")
    assert cli_eval.exit_code == 0, cli_eval.output
    as_json = json.loads(cli_eval.stdout)
    assert set(as_json) == {f.name for f in dataclasses.fields(result)}
    assert as_json["protocol_key"] == result.protocol_key
    assert as_json["results"]["fid"] == pytest.approx(result["fid"])
    from ganzoo.store import RunStore

    assert len(RunStore().resolve("mlp-torch@1").evaluations) == 2  # both stored

    report = ganzoo.compare(["mlp-torch", "dcgan-torch"], split="bundled-test", epochs=1,
                            max_steps=2, n=N, output=tmp_path / "cmp", progress=False)
    assert {m["ref"] for m in report.models} == {"mlp-torch@1", "dcgan-torch@1"}
    assert all(m["results"] is not None for m in report.models)
    assert report.best is report.models[0]
    written = json.loads((tmp_path / "cmp" / "report.json").read_text())
    assert set(written) == set(report.to_json())  # the fields of compare --json
    assert written["models"] == json.loads(json.dumps(report.models, default=str))
    assert next(m for m in report.models if m["ref"] == "mlp-torch@1")["results"]["fid"] == \
        pytest.approx(result["fid"])  # the stored evaluation, reused under the same protocol


def test_load_errors_name_the_fix(tmp_path, monkeypatch, builtin_plugins):
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    with pytest.raises(UnknownModelError, match="dcgan-torch"):
        ganzoo.load("dcgan-trch@latest")
    with pytest.raises(UsageError):
        ganzoo.train("mlp-torch", device="tpu")
    with pytest.raises(UsageError, match="unknown tracker"):
        ganzoo.train("mlp-torch", track="wandb")
