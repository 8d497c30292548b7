"""``ganzoo list``, ``info`` and ``plugins`` through typer's CliRunner, built-in plugins only."""

from __future__ import annotations

import pytest

import ganzoo
from ganzoo.catalog import Catalog
from ganzoo.cli import models_cmd
from ganzoo.hookspecs import hookimpl
from ganzoo_keras.plugin import FAMILIES as KERAS_FAMILIES
from ganzoo_torch.plugin import FAMILIES as TORCH_FAMILIES

# One model per family and built-in backend (the plugins' entry modules import no framework).
KERAS_IDS = {f"{family}-keras" for family in KERAS_FAMILIES}
BUILTIN_IDS = {f"{family}-torch" for family in TORCH_FAMILIES} | KERAS_IDS

pytestmark = pytest.mark.usefixtures("builtin_plugins")


def ids_in(output: str) -> set[str]:
    """Model ids in the first column of a rendered ``ganzoo list`` table."""
    rows = (line.split("│") for line in output.splitlines() if line.startswith("│"))
    return {cells[1].strip() for cells in rows if len(cells) > 2}


def test_list_shows_every_builtin_model(cli):
    result = cli("list")
    assert result.exit_code == 0, result.output
    assert ids_in(result.output) == BUILTIN_IDS
    assert "4,454,720" in result.output  # dcgan G: 4,404,160 trainable + 50,560 frozen
    assert "warning" not in result.output


def test_list_filters_with_a_wildcard(cli):
    result = cli("list", "dcgan-*")
    assert result.exit_code == 0, result.output
    assert ids_in(result.output) == {"dcgan-torch", "dcgan-keras"}
    assert ids_in(cli("list", "*-keras").output) == KERAS_IDS
    empty = cli("list", "nothing-*")
    assert empty.exit_code == 0
    assert ids_in(empty.output) == set()


def test_info_shows_recipe_provenance_and_expected_counts(cli):
    result = cli("info", "dcgan-torch", "--no-layers")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "dcgan-torch" in out and "registry/dcgan.toml" in out
    assert "seed000 (default)" in out and "Provenance" in out
    assert ("generator 4,404,160 trainable + 50,560 non-trainable; "
            "discriminator 212,865 trainable + 0 non-trainable") in out
    assert "Layers" not in out  # --no-layers never builds (or imports) a backend


def test_info_recipe_option_selects_the_counts(cli):
    result = cli("info", "mlp-keras", "--no-layers", "--recipe", "seed004")
    assert result.exit_code == 0, result.output
    assert "Expected parameters (seed004): generator 114,800 trainable" in result.output
    for recipe in ("seed002 (default)", "seed003", "seed004"):
        assert recipe in result.output


def test_info_unknown_recipe_exits_2(cli):
    result = cli("info", "mlp-torch", "--no-layers", "--recipe", "seed999")
    assert result.exit_code == 2
    assert "has no recipe 'seed999'" in result.output and "seed002" in result.output


def test_info_unknown_model_exits_2_without_traceback(cli):
    result = cli("info", "nosuchmodel")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "Unknown model 'nosuchmodel'" in result.stderr
    assert "ganzoo list" in result.stderr  # nothing is close: point at the full list


def test_info_typo_suggests_the_closest_id(cli):
    result = cli("info", "dcgan-torh")
    assert result.exit_code == 2
    assert "Did you mean dcgan-torch" in result.stderr  # the closest comes first
    assert "Traceback" not in result.output


def test_info_falls_back_to_card_arithmetic_when_the_backend_is_missing(cli, monkeypatch):
    class Uninstalled:
        @hookimpl
        def register_models(self, register):
            register("dcgan", "nosuchframework", "nosuchframework_backend:create",
                     requires=("nosuchframework",), install_hint="pip install nosuchframework")

    catalog = Catalog.load(extra=[("uninstalled", Uninstalled())])
    monkeypatch.setattr(models_cmd, "load_catalog", lambda: catalog)

    listed = cli("list", "dcgan-*")
    assert ids_in(listed.output) == {"dcgan-torch", "dcgan-keras", "dcgan-nosuchframework"}
    assert "no: pip install nosuchframework" in listed.output

    result = cli("info", "dcgan-nosuchframework")
    assert result.exit_code == 0, result.output
    assert "needs nosuchframework, which is not installed" in result.output
    assert "built by card (no framework)" in result.output
    assert "(None,7,7,512)" in result.output  # the reshape row, from the card alone
    assert "2,508,800" in result.output  # dense 100 -> 25088, no bias


def test_plugins_lists_builtin_plugins_as_ok(cli):
    result = cli("plugins")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    assert {"torch", "keras", "datasets"} <= set(rows)
    assert "ok" in rows["torch"] and "ganzoo_torch.plugin" in rows["torch"]
    assert f"ganzoo {ganzoo.__version__}" in rows["keras"]


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"ganzoo {ganzoo.__version__}"


@pytest.mark.parametrize(("args", "expect"), [
    ((), "plugins"),
    (("list",), "Shell-style filter"),
    (("info",), "--no-layers"),
    (("plugins",), "whether it failed"),
])
def test_help(cli, args, expect):
    result = cli(*args, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and expect in result.output
