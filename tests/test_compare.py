"""``ganzoo compare`` and ``ganzoo eval`` without real backends: fake versions, fake generators.

The generators are monkeypatched in at
:func:`ganzoo.weights.generators.load_generator_from_file`: a "good" one returns real test
images, a "collapsed" one only trousers. Metrics, the registry, the table and the report folder
are the real thing.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fakes import FakeDataset
from PIL import Image

import ganzoo.data
import ganzoo.weights.generators
from ganzoo.catalog import Catalog
from ganzoo.compare import build_report, markdown, rich_table
from ganzoo.data import load_dataset
from ganzoo.evaluation import Evaluation
from ganzoo.hookspecs import hookimpl
from ganzoo.store import RunStore

N = "300"


class TwoFakes:
    """``mlp-fake`` and ``dcgan-fake``: real cards, the numpy backend of fakes.py."""

    @hookimpl
    def register_models(self, register):
        register(family="mlp", backend="fake", factory="fakes:create_backend")
        register(family="dcgan", backend="fake", factory="fakes:create_backend")


class ImagesGenerator:
    """Returns real images, chosen by the noise, so equal noise gives equal images."""

    latent_dim = 100

    def __init__(self, images: np.ndarray) -> None:
        self.images = images.astype(np.float32) / 127.5 - 1.0

    def generate(self, noise: np.ndarray) -> np.ndarray:
        index = (np.abs(noise[:, 0]) * 1e6).astype(np.int64) % len(self.images)
        return self.images[index]


@pytest.fixture(scope="module")
def fashion_test():
    return load_dataset(None, "fashion", "bundled-test")


@pytest.fixture
def world(tmp_path, monkeypatch, fashion_test):
    """A temporary registry, cache and catalog; generators patched in; offline data only."""
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    monkeypatch.delenv("GANZOO_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    catalog = Catalog.load(entry_points=False, extra=[("fakes", TwoFakes())])
    monkeypatch.setattr("ganzoo.cli.eval_cmd.load_catalog", lambda: catalog)
    generators = {
        "dcgan-fake": ImagesGenerator(fashion_test.images),
        "mlp-fake": ImagesGenerator(fashion_test.images[fashion_test.labels == 1]),
    }
    calls: list[str] = []

    def load_generator_from_file(catalog, path, backend=None):
        model_id = path.parent.parent.name
        calls.append(model_id)
        meta = {"noise": "normal", "latent_dim": 100, "image_shape": [28, 28, 1]}
        return generators[model_id], meta

    monkeypatch.setattr(ganzoo.weights.generators, "load_generator_from_file",
                        load_generator_from_file)
    return {"catalog": catalog, "store": RunStore(), "tmp": tmp_path, "calls": calls}


def register_version(store: RunStore, model_id: str, recipe: str, epochs: int = 1,
                     images_per_s: float = 100.0, wall: float = 60.0, steps: int = 5,
                     batch_size: int | None = None, max_steps: int | None = None,
                     split: str = "train") -> str:
    workdir = store.new_workdir()
    if batch_size is not None:
        (workdir / "config.json").write_text(json.dumps(
            {"model_id": model_id, "batch_size": batch_size, "max_steps": max_steps,
             "epochs": epochs, "split": split}))
    with open(workdir / "metrics.jsonl", "w") as f:
        for step in range(1, 6):
            f.write(json.dumps({"kind": "step", "images_seen": step * 640, "d_loss": 1 / step,
                                "g_loss": 2 / step, "d_real": 0.6, "d_fake": 0.4}) + "\n")
    record = store.register(workdir, {
        "model_id": model_id, "status": "complete", "family": model_id.split("-")[0],
        "backend": "fake", "recipe": recipe, "dataset": "fashion", "split": split,
        "epochs": epochs, "steps": steps, "seed": 0, "wall_time_s": wall,
        "images_per_s": images_per_s, "final_metrics": {}, "parent": None,
    })
    return record.ref


def _models(report_json: dict) -> dict[str, dict]:
    return {m["model_id"]: m for m in report_json["models"]}


def test_compare_writes_the_report_and_marks_the_best(world, cli):
    store = world["store"]
    register_version(store, "mlp-fake", "seed002", images_per_s=900.0, wall=30.0)
    register_version(store, "dcgan-fake", "seed000", images_per_s=100.0, wall=300.0)
    out = world["tmp"] / "report"
    result = cli("compare", "mlp-fake", "dcgan-fake", "--data", "fashion", "-n", N, "-o",
                 str(out))
    assert result.exit_code == 0, result.output
    assert "★" in result.output and "real floor" in result.output
    for name in ("report.md", "report.json", "samples.png", "losses.png"):
        assert (out / name).is_file(), name

    report = json.loads((out / "report.json").read_text())
    models = _models(report)
    assert report["comparable"] and report["protocol"]["n"] == 300
    assert report["floor"]["fid"] > 0 and "two disjoint sets" in report["floor"]["method"]
    good, collapsed = models["dcgan-fake"], models["mlp-fake"]
    assert {"fid", "kid", "recall", "coverage"} <= set(good["best"])
    assert {"images_per_s", "wall_time_s"} <= set(collapsed["best"])  # cheaper to train
    assert collapsed["results"]["coverage"] <= 0.2
    assert good["results"]["fid"] < collapsed["results"]["fid"]
    assert good["params"]["generator"] > 0

    md = (out / "report.md").read_text()
    assert "| model | backend |" in md and "**" in md and "★" in md
    # Density and k-NN coverage (Naeem et al. 2020) are columns of the report and the floor.
    assert "density ↑" in md and "k-NN cov. ↑" in md and "k-NN coverage" in md
    assert 0 < report["floor"]["knn_coverage"] <= 1
    assert collapsed["results"]["knn_coverage"] < good["results"]["knn_coverage"]
    assert "![samples](samples.png)" in md and "![losses](losses.png)" in md
    assert "same 64 latent vectors" in md
    with Image.open(out / "samples.png") as picture:
        assert picture.width > 1.8 * picture.height  # two grids side by side

    # Results are stored on the versions, with their protocol.
    stored = store.resolve("dcgan-fake@1").evaluations
    assert len(stored) == 1 and stored[0]["protocol"]["n"] == 300
    assert stored[0]["protocol"]["extractor"]["sha256"] == good["protocol"]["extractor"]["sha256"]

    # A second comparison under the same protocol reuses what is stored.
    again = cli("compare", "mlp-fake", "dcgan-fake", "-n", N, "-o", str(out / "again"))
    assert again.exit_code == 0, again.output
    assert len(store.resolve("dcgan-fake@1").evaluations) == 1


def test_eval_stores_results_with_their_protocol(world, cli):
    ref = register_version(world["store"], "dcgan-fake", "seed000")
    result = cli("eval", ref, "-n", N, "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "real floor" in result.output and "FID" in result.output
    assert "density" in result.output and "k-NN coverage" in result.output
    [stored] = world["store"].resolve(ref).evaluations
    protocol = stored["protocol"]
    assert (protocol["n"], protocol["seed"], protocol["dataset"]) == (300, 3, "fashion")
    assert protocol["real_split"] == "test" and protocol["real_n"] == 300
    assert protocol["extractor"]["name"] == "fashion-extractor"
    assert len(protocol["extractor"]["sha256"]) == 64
    assert protocol["metrics"]["pr_k"] == 3 and protocol["metrics"]["kid_subset_size"] == 1000
    # Two disjoint real sets are never at FID 0 (the code clamps at 0, so ">= 0" could not
    # fail), and the floor is what the terminal showed beside the model's score.
    floor_fid = stored["results"]["floor"]["fid"]
    assert floor_fid > 0
    assert f"{floor_fid:.2f}" in result.output

    # --stored reads what the registry holds and says what is missing.
    register_version(world["store"], "mlp-fake", "seed002")
    out = world["tmp"] / "stored"
    result = cli("compare", "mlp-fake", ref, "--stored", "-o", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["protocol"]["seed"] == 3
    assert any("No stored evaluation for mlp-fake@1" in note for note in report["notes"])


def test_compare_asks_for_a_budget_and_for_missing_models(world, cli):
    result = cli("compare", "mlp-fake", "-n", N, "--train-missing")
    assert result.exit_code == 2 and "--epochs" in result.output
    result = cli("compare", "mlp-fake", "-n", N)
    assert result.exit_code == 1 and "--train-missing" in result.output


def test_compare_trains_what_is_missing_with_one_budget(world, cli, monkeypatch):
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(), raising=False)
    out = world["tmp"] / "trained"
    result = cli("compare", "mlp-fake", "dcgan-fake", "--train-missing", "--epochs", "1", "-n",
                 N, "-o", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    models = _models(json.loads((out / "report.json").read_text()))
    assert {m["epochs"] for m in models.values()} == {1}
    assert all(m["trained_now"] for m in models.values())
    assert models["mlp-fake"]["recipe"] == "seed002"  # the card's recipe for fashion
    # Versions trained for that budget are found next time instead of retrained.
    again = cli("compare", "mlp-fake", "dcgan-fake", "--train-missing", "--epochs", "1", "-n",
                N, "-o", str(out / "again"), "--no-progress")
    assert again.exit_code == 0 and "training" not in again.output
    assert [r.version for r in world["store"].list("mlp-fake")] == [1]


def test_different_protocols_are_never_ranked_together(world):
    store, catalog = world["store"], world["catalog"]
    refs = [register_version(store, "mlp-fake", "seed002"),
            register_version(store, "dcgan-fake", "seed000")]
    records = [store.resolve(r) for r in refs]
    base = {"dataset": "fashion", "n": 10000, "seed": 0, "real_split": "test",
            "real_n": 10000, "extractor": {"name": "fashion-extractor", "sha256": "ab" * 32},
            "metrics": {"pr_k": 3}}
    results = {"fid": 10.0, "kid": 0.01, "precision": 0.5, "recall": 0.5, "is": 5.0,
               "coverage": 1.0}
    evaluations = [Evaluation(refs[0], base, results),
                   Evaluation(refs[1], {**base, "n": 2000}, {**results, "fid": 5.0})]
    report = build_report(catalog, "fashion", [(r, False) for r in records], evaluations,
                          None, None)
    assert not report.comparable
    assert all(c.best == [] or set(c.best) <= {"images_per_s", "wall_time_s"}
               for c in report.contenders)
    assert any("n: 10000 vs 2000" in note for note in report.notes)
    assert "different protocols" in markdown(report)
    assert "protocol" in [col.header for col in rich_table(report).columns]


def test_a_column_where_every_row_prints_the_same_marks_nobody(world):
    store, catalog = world["store"], world["catalog"]
    refs = [register_version(store, "mlp-fake", "seed002"),
            register_version(store, "dcgan-fake", "seed000")]
    protocol = {"dataset": "fashion", "n": 10000, "seed": 0}
    results = {"fid": 10.0, "kid": 0.01, "precision": 0.5, "recall": 0.0001, "is": 5.0,
               "coverage": 1.0}
    evaluations = [Evaluation(refs[0], protocol, results),
                   Evaluation(refs[1], protocol, {**results, "recall": 0.0, "fid": 9.999,
                                                  "precision": 0.9})]
    report = build_report(catalog, "fashion", [(store.resolve(r), False) for r in refs],
                          evaluations, None, None)
    first, second = report.contenders
    # 0.000 against 0.000 and 10.00 against 10.00: no visible winner, no mark.
    assert not {"recall", "fid"} & set(first.best + second.best)
    assert "precision" in second.best and "precision" not in first.best


# -- budgets in images seen (issue 15) ------------------------------------------------------


def test_a_capped_run_is_not_the_same_budget_as_a_full_epoch(world, cli):
    store = world["store"]
    # Both "1 epoch": one capped at 10 steps of 64, one a full epoch of 468 steps of 128.
    register_version(store, "mlp-fake", "seed002", steps=10, batch_size=64, max_steps=10)
    register_version(store, "dcgan-fake", "seed000", steps=468, batch_size=128)
    out = world["tmp"] / "budgets"
    result = cli("compare", "mlp-fake", "dcgan-fake", "-n", N, "-o", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    models = _models(report)
    assert models["mlp-fake"]["budget"]["images_seen"] == 640
    assert models["dcgan-fake"]["budget"]["images_seen"] == 468 * 128
    assert report["equal_budgets"] is False
    assert any(n.startswith("Unequal budgets") and "640 images" in n for n in report["notes"])
    assert "images seen" in result.output and "640 ≠" in result.output
    assert "59.9k ≠" in result.output and "Unequal budgets" in result.output
    md = (out / "report.md").read_text()
    assert "Unequal budgets" in md and "640 ≠" in md
    assert "1 epoch capped at 10 steps: 10 steps x 64 = 640 images" in md


def test_whole_epochs_of_different_batch_sizes_are_one_budget(world):
    store, catalog = world["store"], world["catalog"]
    # 60,000 images: 937 batches of 64 (59,968) and 468 of 128 (59,904): the same epoch.
    refs = [register_version(store, "mlp-fake", "seed002", steps=937, batch_size=64),
            register_version(store, "dcgan-fake", "seed000", steps=468, batch_size=128)]
    report = build_report(catalog, "fashion", [(store.resolve(r), False) for r in refs],
                          [None, None], None, None)
    assert report.equal_budgets
    assert not any("Unequal" in n for n in report.notes)
    # Two batches' worth apart is another budget.
    refs.append(register_version(store, "dcgan-fake", "seed000", steps=466, batch_size=128))
    report = build_report(catalog, "fashion", [(store.resolve(r), False) for r in refs[::2]],
                          [None, None], None, None)
    assert not report.equal_budgets


def test_compare_picks_versions_of_the_asked_budget_only(world, cli, monkeypatch):
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(), raising=False)
    out = world["tmp"] / "capped"
    result = cli("compare", "mlp-fake", "--train-missing", "--epochs", "1", "--max-steps", "2",
                 "-n", N, "-o", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    [model] = json.loads((out / "report.json").read_text())["models"]
    assert model["budget"] == {"epochs": 1, "steps": 2, "batch_size": 32, "max_steps": 2,
                               "images_seen": 64}
    # A full epoch is another budget: the capped version is not taken for it.
    result = cli("compare", "mlp-fake", "--epochs", "1", "-n", N, "-o", str(out / "full"))
    assert result.exit_code == 1 and "No trained version of mlp-fake" in result.output
    result = cli("compare", "mlp-fake", "--max-steps", "2", "-n", N)
    assert result.exit_code == 2 and "--epochs" in result.output


# -- --split and the reference (issue 19) -------------------------------------------------------


def test_compare_trains_on_the_bundled_split_and_judges_against_it(world, cli, monkeypatch):
    loaded: list[str] = []

    def fake_load(catalog, name, split="train", *a, **k):
        loaded.append(split)
        return FakeDataset()

    monkeypatch.setattr(ganzoo.data, "load_dataset", fake_load, raising=False)
    out = world["tmp"] / "bundled"
    result = cli("compare", "mlp-fake", "dcgan-fake", "--data", "fashion", "--split",
                 "bundled-test", "--train-missing", "--epochs", "1", "--max-steps", "2", "-n",
                 N, "-o", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    assert loaded == ["bundled-test", "bundled-test"]  # both trained on the shipped copy
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "bundled-test"
    assert {m["split"] for m in report["models"]} == {"bundled-test"}
    assert report["protocol"]["real_split"] == "bundled-test"
    assert report["floor"]["real_split"] == "bundled-test"
    assert "bundled copy" in report["floor"]["method"]
    assert any("come from fashion/bundled-test" in n for n in report["notes"])
    assert "Reference and floor: fashion/bundled-test" in result.output
    assert "Reference and real floor: fashion/bundled-test" in (out / "report.md").read_text()
    # Without --split the reference is the test split, as before.
    again = cli("compare", "mlp-fake", "dcgan-fake", "-n", N, "-o", str(out / "test"))
    assert again.exit_code == 0, again.output
    assert json.loads((out / "test" / "report.json").read_text())["protocol"][
        "real_split"] == "test"


def test_compare_refuses_an_unknown_split(world, cli):
    result = cli("compare", "mlp-fake", "--split", "bundled-tset", "-n", N)
    assert result.exit_code == 2 and "bundled-test" in result.output


def test_eval_split_picks_the_bundled_reference(world, cli):
    ref = register_version(world["store"], "dcgan-fake", "seed000")
    result = cli("eval", ref, "-n", N, "--split", "bundled-test", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["real_split"] == "bundled-test"
    assert data["protocol"]["real_split"] == "bundled-test"
    assert "bundled copy" in data["results"]["floor"]["method"]
    assert set(data) == {"ref", "model_id", "dataset", "real_split", "protocol",
                         "protocol_key", "results"}
    # A version trained on the bundled split is measured against it by default.
    bundled = register_version(world["store"], "mlp-fake", "seed002", split="bundled-test")
    result = cli("eval", bundled, "-n", N)
    assert result.exit_code == 0, result.output
    assert "Reference and floor: fashion/bundled-test" in result.output


# -- the table at 80 and 120 columns (issue 19) ------------------------------------------------


def _rendered(report, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO())
    console.print(rich_table(report, width=width))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120])
def test_the_table_never_cuts_model_refs(world, width):
    store, catalog = world["store"], world["catalog"]
    refs = [register_version(store, "mlp-fake", "seed002") for _ in range(11)]
    refs.append(register_version(store, "dcgan-fake", "seed000"))
    chosen = [(store.resolve(refs[-2]), False), (store.resolve(refs[-1]), False)]
    results = {"fid": 123.456, "kid": 0.123456, "precision": 0.5, "recall": 0.0, "is": 5.0,
               "coverage": 1.0}
    protocol = {"dataset": "fashion", "n": 10000, "seed": 0, "real_split": "bundled-test",
                "real_n": 10000, "extractor": {"name": "x", "sha256": "ab" * 32},
                "metrics": {"pr_k": 3}}
    floor = {**results, "method": "fashion/bundled-test: two disjoint sets of 5,000 images "
             "(seed 0), as the reference is the bundled copy", "real_split": "bundled-test",
             "real_n": 5000}
    report = build_report(catalog, "fashion", chosen,
                          [Evaluation(refs[-2], protocol, results),
                           Evaluation(refs[-1], protocol, {**results, "fid": 99.0})],
                          protocol, floor)
    text = _rendered(report, width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "mlp-fake@11" in text and "dcgan-fake@1" in text
    assert "…" not in text  # numbers and labels wrap or give way; nothing is cut
    assert "FID" in text and "images" in text  # the budget column stays
    assert "bundled-test" in text  # where the reference and floor come from
