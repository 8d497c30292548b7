"""The CLI in pipes: ids and refs whole at 80 columns, ``--json`` schemas, flags in ``--help``.

Each listing command runs at ``COLUMNS=80`` (what ``ganzoo list | cat`` gets) and at 40, and
every model id, version ref or split name must appear whole, never as ``dcgan-tor…``. The
``--json`` outputs are checked against the schema documented in docs/cli-json.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from ganzoo.cli import console as shared
from ganzoo.store import RunStore
from ganzoo.tables import fit_table
from ganzoo_keras.plugin import FAMILIES as KERAS_FAMILIES
from ganzoo_torch.plugin import FAMILIES as TORCH_FAMILIES

BUILTIN_IDS = tuple(sorted({f"{f}-torch" for f in TORCH_FAMILIES}
                           | {f"{f}-keras" for f in KERAS_FAMILIES}))

pytestmark = pytest.mark.usefixtures("builtin_plugins")


@pytest.fixture
def at_width(cli, monkeypatch):
    """``at_width(80, "list")``: the command's output on a terminal (or pipe) that wide."""

    def run(width: int, *args: str):
        monkeypatch.setenv("COLUMNS", str(width))
        for c in (shared.console, shared.err_console):
            monkeypatch.setattr(c, "_width", None)
        result = cli(*args)
        assert result.exit_code == 0, result.output
        table = [line for line in result.stdout.splitlines() if line[:1] in "┏┃┡│└"]
        assert max(len(line) for line in table) <= width  # soft-wrapped fix lines aside
        return result.stdout

    return run


def _cells(output: str, column: int = 0) -> list[str]:
    """The text of one column of a rendered table, one entry per table line."""
    out = []
    for line in output.splitlines():
        if line.startswith("│"):
            out.append(line.split("│")[column + 1].strip())
    return out


@pytest.mark.parametrize("width", [80, 40])
def test_list_never_cuts_model_ids(at_width, width):
    out = at_width(width, "list")
    assert _cells(out) == list(BUILTIN_IDS)  # one whole id per row, in order
    assert "…" not in out


def test_list_greps_at_80_columns(at_width):
    out = at_width(80, "list")
    assert [line for line in out.splitlines() if "dcgan-torch" in line]
    assert "4,454,720" in out  # numbers stay too when they fit


@pytest.mark.parametrize("width", [80, 40])
def test_runs_never_cuts_refs(at_width, tmp_path, monkeypatch, width):
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    store = RunStore()
    for model_id in ("combined-keras",) * 12 + ("dcgan-torch",):
        workdir = store.new_workdir()
        store.register(workdir, {
            "model_id": model_id, "status": "interrupted", "family": model_id.split("-")[0],
            "backend": model_id.split("-")[1], "recipe": "seed000", "dataset": "fashion",
            "split": "bundled-test", "epochs": 1, "steps": 5, "seed": 0, "wall_time_s": 1.0,
            "images_per_s": 10.0, "final_metrics": {"d_loss": 1.0, "g_loss": 1.0},
            "parent": None})
    out = at_width(width, "runs")
    refs = [c for c in _cells(out) if c]
    assert refs == [f"combined-keras@{i}" for i in range(1, 13)] + ["dcgan-torch@1"]
    assert "…" not in out


def test_plugins_datasets_and_info_keep_names_whole(at_width):
    plugins = at_width(80, "plugins")
    assert {"datasets", "keras", "torch"} <= set(_cells(plugins))
    datasets = at_width(80, "datasets")
    assert {"train", "test", "bundled-test"} <= set(_cells(datasets, 1))
    assert "…" not in datasets
    info = at_width(80, "info", "dcgan-torch", "--no-layers")
    assert "seed000 (default)" in _cells(info)
    assert "…" not in info


# -- --json -------------------------------------------------------------------------------


def test_list_json(cli):
    result = cli("list", "dcgan-*", "--json")
    assert result.exit_code == 0, result.output
    models = json.loads(result.stdout)
    assert [m["model_id"] for m in models] == ["dcgan-keras", "dcgan-torch"]
    assert set(models[0]) == {"model_id", "family", "backend", "plugin", "params", "installed",
                              "install_hint"}
    assert models[1]["params"] == {"generator": 4_454_720, "discriminator": 212_865}
    assert models[1]["installed"] is True


def test_plugins_json(cli):
    result = cli("plugins", "--json")
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert {"torch", "keras", "datasets"} <= set(plugins)
    assert set(plugins["torch"]) == {"name", "version", "source", "registered", "ok", "errors"}
    assert plugins["torch"]["ok"] is True and "dcgan-torch" in plugins["torch"]["registered"]


def test_datasets_json(cli, monkeypatch, tmp_path):
    monkeypatch.delenv("GANZOO_DATA", raising=False)
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    result = cli("datasets", "--json")
    assert result.exit_code == 0, result.output
    rows = {(r["dataset"], r["split"]): r for r in json.loads(result.stdout)}
    bundled = rows[("fashion", "bundled-test")]
    assert set(bundled) == {"dataset", "title", "split", "images", "licence", "bundled", "found",
                            "location", "place", "fix"}
    assert bundled["found"] is True and bundled["bundled"] is True
    assert bundled["images"] == 10_000 and bundled["fix"] is None


def test_info_json(cli):
    result = cli("info", "mlp-keras", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["model_id"] == "mlp-keras" and info["default_recipe"] == "seed002"
    recipes = {r["name"]: r for r in info["recipes"]}
    assert set(recipes) == {"seed002", "seed003", "seed004"}
    assert recipes["seed002"]["default"] is True
    assert recipes["seed004"]["params"]["generator_trainable"] == 114_800
    assert {"title", "description", "card", "provenance"} <= set(info)


# -- --help --------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [(), ("compare",), ("list",), ("runs",), ("eval",)])
def test_help_shows_no_value_for_flags(cli, args):
    result = cli(*args, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    if args == ("compare",):
        assert "<int" in result.output  # options that take a value keep their type
        assert "--split" in result.output and "--max-steps" in result.output


# -- fit_table -----------------------------------------------------------------------------


def test_fit_table_keeps_whole_columns_and_drops_in_order():
    table = Table()
    table.add_column("id")
    for name in ("a long header", "b", "c"):
        table.add_column(name)
    table.add_row("combined-keras@123", "some words that wrap", "1,234,567", "x")
    dropped = fit_table(table, 36, whole=("id",), drop=("b", "a long header"))
    assert dropped == ["b"]
    console = Console(width=36, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(table)
    text = console.export_text()
    assert "combined-keras@123" in text and "1,234,567" not in text and "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 36
    assert "words" in text and "wrap" in text and "header" in text  # wrapped, kept


# -- issue 19: the mission's compare on a fresh, offline machine (real backends) ----------------


def _offline_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GANZOO_DATA", "KERAS_HOME", "TORCH_HOME", "XDG_CACHE_HOME")}
    env.update(GANZOO_HOME=str(tmp / "home"), GANZOO_CACHE=str(tmp / "cache"),
               GANZOO_OFFLINE="1", HOME=str(tmp / "user"), KERAS_HOME=str(tmp / "keras"),
               GANZOO_PLUGINS="torch,keras", PYTHONHASHSEED="0")
    return env


# No local dataset files: no $GANZOO_DATA, empty caches and home, a working directory without
# data/ (the torchvision layout), and the system datasets folder (ganzoo.data.places) emptied.
_OFFLINE_GANZOO = ("import sys; import ganzoo.data.places as p; p.SYSTEM_DATASET_DIRS = (); "
                   "from ganzoo.cli.app import app; sys.argv[0] = 'ganzoo'; app()")


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.keras
def test_compare_on_a_fresh_offline_machine(tmp_path):
    env = _offline_env(tmp_path)
    base = [sys.executable, "-c", _OFFLINE_GANZOO, "compare", "mlp-keras", "dcgan-torch",
            "--data", "fashion", "--split", "bundled-test", "--train-missing", "--epochs", "1",
            "--max-steps", "2", "-n", "100", "--no-progress"]
    outputs = {}
    for width in (80, 120):
        out = tmp_path / f"report{width}"
        done = subprocess.run([*base, "-o", str(out)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=500, env={**env, "COLUMNS": str(width)})
        assert done.returncode == 0, done.stdout + done.stderr
        for name in ("report.md", "report.json", "samples.png", "losses.png"):
            assert (out / name).is_file(), name
        outputs[width] = done.stdout
        lines = done.stdout.splitlines()
        table = [line for line in lines if line.startswith("│")]
        assert {c.split("│")[1].strip() for c in table} >= {"mlp-keras@1", "dcgan-torch@1"}
        assert max(len(line) for line in table) <= width
    report = json.loads((tmp_path / "report80" / "report.json").read_text())
    assert {m["ref"]: m["trained_now"] for m in report["models"]} == {
        "mlp-keras@1": True, "dcgan-torch@1": True}
    assert {m["split"] for m in report["models"]} == {"bundled-test"}
    assert report["protocol"]["real_split"] == "bundled-test"
    assert "Training mlp-keras" in outputs[80] and "Training" not in outputs[120]  # reused


def test_a_whole_column_keeps_its_justification():
    table = Table()
    table.add_column("metric")
    table.add_column("dcgan-torch@1", justify="right")
    table.add_row("FID", "1.5")
    fit_table(table, 80, whole=("dcgan-torch@1",))
    console = Console(width=80, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(table)
    row = next(line for line in console.export_text().splitlines() if "FID" in line)
    assert row.split("│")[2] == "           1.5 "  # right-aligned under the 13-character ref
