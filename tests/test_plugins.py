"""Plugins: real entry-point discovery, the example plugin, failure isolation, $GANZOO_PLUGINS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ganzoo.cards import builtin_cards, load_card
from ganzoo.catalog import Catalog
from ganzoo.hookspecs import hookimpl
from ganzoo_keras.plugin import FAMILIES as KERAS_FAMILIES
from ganzoo_torch.plugin import FAMILIES as TORCH_FAMILIES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "ganzoo-plugin-example"
# The built-in plugins register one model per family (their entry modules import no framework).
TORCH_IDS = {f"{family}-torch" for family in TORCH_FAMILIES}
KERAS_IDS = {f"{family}-keras" for family in KERAS_FAMILIES}
BUILTIN_IDS = TORCH_IDS | KERAS_IDS
BAD_PLUGINS = ("broken", "dup", "hookraise", "badcard")


def write_dist(site: Path, name: str, version: str, entry_points: dict[str, str],
               modules: dict[str, str] | None = None) -> Path:
    """Make ``site`` hold an installed distribution as pip leaves it, for importlib.metadata."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(
        "[ganzoo]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    return site


def ids_in(output: str) -> set[str]:
    rows = (line.split("│") for line in output.splitlines() if line.startswith("│"))
    return {cells[1].strip() for cells in rows if len(cells) > 2}


def row_of(output: str, first_cell: str) -> str:
    """The rendered table line whose first cell is ``first_cell``."""
    for line in output.splitlines():
        if line.startswith("│") and line.split("│")[1].strip() == first_cell:
            return line
    raise AssertionError(f"no row {first_cell!r} in:\n{output}")


@pytest.fixture
def forget_modules():
    """Drop modules the test imported from its temporary site, so no later test sees them."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("ganzoo_test_", "ganzoo_plugin_example")):
            del sys.modules[name]


# -- the example plugin, installed for real --------------------------------------------------

@pytest.fixture
def example_site(tmp_path: Path) -> Path:
    """A site directory holding ganzoo-plugin-example as pip installs it from its pyproject."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE / "src" / "ganzoo_plugin_example", site / "ganzoo_plugin_example",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return write_dist(site, project["name"], project["version"],
                      project["entry-points"]["ganzoo"])


def run_python(site: Path, *args: str, plugins: str = "torch,keras,example"):
    """``python ARGS`` in a fresh interpreter that has ``site`` on its path."""
    env = {**os.environ, "COLUMNS": "200", "GANZOO_PLUGINS": plugins,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, *args], cwd=site, env=env, capture_output=True,
                          text=True, timeout=120)


def run_ganzoo(site: Path, *args: str):
    return run_python(site, "-c", "from ganzoo.cli import main; main()", *args)


def test_example_card_is_valid():
    card = load_card(EXAMPLE / "src" / "ganzoo_plugin_example" / "tinymlp.toml")
    assert card.family == "tinymlp" and card.default_recipe == "fashion"
    fashion, mnist = card.recipes["fashion"], card.recipes["mnist"]
    assert fashion.parameter_counts() == {
        "generator_trainable": 16 * 64 + 64 + 64 * 784 + 784,
        "generator_non_trainable": 0,
        "discriminator_trainable": 784 * 64 + 64 + 64 + 1,
        "discriminator_non_trainable": 0,
    }
    assert fashion.generator.output_shape == fashion.image_shape == (28, 28, 1)
    assert mnist.dataset == "mnist" and mnist.generator == fashion.generator


def test_example_plugin_loads_through_its_entry_point(example_site, monkeypatch, forget_modules):
    monkeypatch.syspath_prepend(str(example_site))
    catalog = Catalog.load(plugins=["torch", "keras", "example"])
    report = {r.name: r for r in catalog.plugin_reports}["example"]
    assert report.ok, report.errors
    assert report.version == "ganzoo-plugin-example 0.1.0"
    assert report.source == "entry point ganzoo_plugin_example.plugin"
    assert report.registered == ["card tinymlp", "tinymlp-torch"]
    spec = catalog.model("tinymlp-torch")
    assert (spec.family, spec.backend, spec.plugin) == ("tinymlp", "torch", "example")
    assert spec.factory == "ganzoo_torch.backend:create_backend" and spec.requires == ("torch",)
    assert catalog.card_origin["tinymlp"] == "plugin example"
    assert Path(spec.card.source).is_relative_to(example_site)  # read from the installed package
    assert {m.model_id for m in catalog.list_models()} == BUILTIN_IDS | {"tinymlp-torch"}


def test_cli_lists_the_example_plugin(example_site):
    listed = run_ganzoo(example_site, "list")
    assert listed.returncode == 0, listed.stderr
    assert ids_in(listed.stdout) == BUILTIN_IDS | {"tinymlp-torch"}
    row = row_of(listed.stdout, "tinymlp-torch")
    assert "example" in row and "52,048" in row and "50,305" in row

    plugins = run_ganzoo(example_site, "plugins")
    assert plugins.returncode == 0, plugins.stderr
    row = row_of(plugins.stdout, "example")
    assert "ganzoo-plugin-example 0.1.0" in row and "card tinymlp, tinymlp-torch" in row
    assert row.rstrip("│ ").endswith("ok")


def test_listing_imports_no_framework(example_site):
    script = textwrap.dedent("""
        import sys
        from ganzoo.cli.app import app
        for args in (["list"], ["plugins"], ["info", "dcgan-torch", "--no-layers"],
                     ["info", "tinymlp-torch", "--no-layers"], ["info", "mlp-keras", "--help"]):
            app(args, standalone_mode=False)
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in {"torch", "tensorflow", "keras", "jax"}
                       or (m.startswith(("ganzoo_torch.", "ganzoo_keras."))
                           and not m.endswith(".plugin")))
        assert not heavy, heavy
        print("NO FRAMEWORK IMPORTED")
    """)
    result = run_python(example_site, "-c", script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tinymlp-torch" in result.stdout and "NO FRAMEWORK IMPORTED" in result.stdout


# -- broken plugins ----------------------------------------------------------------------------

BAD_CARD = '''family = "bad"
title = "Bad"
description = "A card with a typo."
default_recipe = "r"
provenance = {}
recipes = { r = { descripton = "typo" } }
'''


@pytest.fixture
def bad_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_modules) -> Path:
    """Four broken plugins in one distribution, on sys.path ahead of ganzoo itself."""
    site = write_dist(
        tmp_path / "site", "ganzoo-test-plugins", "0.1.0",
        {name: f"ganzoo_test_{name}" for name in BAD_PLUGINS},
        {
            "ganzoo_test_broken": 'raise RuntimeError("broken on purpose")\n',
            "ganzoo_test_dup": """
                from ganzoo.hookspecs import hookimpl

                @hookimpl
                def register_models(register):
                    register("dcgan", "torch", "ganzoo_test_dup:create")  # taken by 'torch'
                    register("mlp", "dupe", "ganzoo_test_dup:create")
            """,
            "ganzoo_test_hookraise": """
                from ganzoo.hookspecs import hookimpl

                @hookimpl
                def register_models(register):
                    raise ValueError("hook fails on purpose")
            """,
            "ganzoo_test_badcard": f"""
                from ganzoo.hookspecs import hookimpl

                @hookimpl
                def register_cards(register):
                    register(text={BAD_CARD!r}, source="badcard.toml")

                @hookimpl
                def register_models(register):
                    register("bad", "torch", "ganzoo_test_badcard:create")
            """,
        },
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_broken_plugins_are_isolated_and_reported_by_name(bad_site):
    catalog = Catalog.load(plugins=["torch", "keras", *BAD_PLUGINS])
    reports = {r.name: r for r in catalog.plugin_reports}
    assert reports["torch"].ok and reports["keras"].ok and reports["datasets"].ok
    assert {m.model_id for m in catalog.list_models()} == BUILTIN_IDS | {"mlp-dupe"}

    (error,) = reports["broken"].errors
    assert error.startswith("failed to load: RuntimeError: broken on purpose")
    assert "ganzoo_test_broken.py:1" in error
    assert reports["broken"].version == "ganzoo-test-plugins 0.1.0"

    # Built-in plugins load first, so a third party never shadows one of their ids.
    assert reports["dup"].errors == [
        "model id 'dcgan-torch' is registered by both plugin 'torch' and plugin 'dup'; "
        "the first one ('torch') is kept"
    ]
    assert reports["dup"].registered == ["mlp-dupe"]
    assert catalog.model("dcgan-torch").plugin == "torch"

    (error,) = reports["hookraise"].errors
    assert error.startswith("register_models raised ValueError: hook fails on purpose")

    card_error, model_error = reports["badcard"].errors
    assert card_error.startswith("register_cards raised CardError: badcard.toml: recipes.r: "
                                 "unknown key 'descripton'")
    assert "no card defines family 'bad'" in model_error
    assert "bad" not in catalog.cards


def test_cli_reports_broken_plugins_and_still_lists_the_rest(bad_site, cli, monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", ",".join(["torch", "keras", *BAD_PLUGINS]))
    monkeypatch.setenv("COLUMNS", "400")  # long error messages stay on one line
    plugins = cli("plugins")
    assert plugins.exit_code == 0, plugins.output
    assert "failed to load: RuntimeError: broken on purpose" in row_of(plugins.output, "broken")
    assert "registered by both plugin 'torch' and plugin 'dup'" in row_of(plugins.output, "dup")
    assert "register_models raised ValueError" in row_of(plugins.output, "hookraise")
    assert "unknown key 'descripton'" in row_of(plugins.output, "badcard")
    assert row_of(plugins.output, "torch").rstrip("│ ").endswith("ok")

    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    assert ids_in(listed.output) == BUILTIN_IDS | {"mlp-dupe"}
    assert "plugin problems in badcard, broken, dup, hookraise" in listed.output
    assert cli("info", "dcgan-torch", "--no-layers").exit_code == 0


def test_in_process_plugins_are_isolated_too():
    class WrongSignature:  # pluggy rejects it when it is registered
        @hookimpl
        def register_models(self, registrar):
            pass

    class RedefinesACard:
        @hookimpl
        def register_cards(self, register):
            register(Path(__file__).resolve().parents[1] / "registry" / "dcgan.toml")

    class Fine:
        @hookimpl
        def register_models(self, register):
            register("combined", "fine", "nowhere:create")

    catalog = Catalog.load(entry_points=False, extra=[
        ("wrong", WrongSignature()), ("redefines", RedefinesACard()), ("fine", Fine())])
    reports = {r.name: r for r in catalog.plugin_reports}
    (error,) = reports["wrong"].errors
    assert error.startswith("failed to register: PluginValidationError") and "registrar" in error
    (error,) = reports["redefines"].errors
    assert "family 'dcgan' is already defined by ganzoo; plugin 'redefines'" in error
    assert catalog.cards["dcgan"].source == "registry/dcgan.toml"
    assert reports["fine"].ok and list(catalog.models) == ["combined-fine"]


def test_a_second_entry_point_with_a_taken_name_is_ignored(tmp_path, monkeypatch, forget_modules):
    site = write_dist(tmp_path, "ganzoo-impostor", "1.0", {"torch": "ganzoo_test_impostor"},
                      {"ganzoo_test_impostor": "raise SystemExit('must never be imported')\n"})
    monkeypatch.syspath_prepend(str(site))
    catalog = Catalog.load(plugins=["torch"])
    (report,) = [r for r in catalog.plugin_reports if r.name == "torch"]
    assert report.version.startswith("ganzoo ") and report.registered == [
        f"{family}-torch" for family in TORCH_FAMILIES]
    assert report.errors == [
        "entry point 'torch' (ganzoo_test_impostor) was ignored: the name is taken"]
    assert "ganzoo_test_impostor" not in sys.modules


# -- $GANZOO_PLUGINS -----------------------------------------------------------------------

@pytest.mark.parametrize(("selection", "plugins", "ids"), [
    ("torch", {"torch"}, TORCH_IDS),
    (" keras , ,", {"keras"}, KERAS_IDS),
    ("torch,keras", {"torch", "keras"}, BUILTIN_IDS),
    ("", set(), set()),
    ("nosuchplugin", set(), set()),
])
def test_ganzoo_plugins_selects_entry_points(bad_site, monkeypatch, selection, plugins, ids):
    monkeypatch.setenv("GANZOO_PLUGINS", selection)
    catalog = Catalog.load()
    assert {r.name for r in catalog.plugin_reports} == {"datasets", *plugins}
    assert set(catalog.models) == ids
    assert not [m for m in sys.modules if m.startswith("ganzoo_test_")]  # never imported
    assert set(catalog.cards) == {c.family for c in builtin_cards()}  # built-in cards stay


def test_unset_ganzoo_plugins_loads_every_entry_point(bad_site, monkeypatch):
    monkeypatch.delenv("GANZOO_PLUGINS", raising=False)
    names = {r.name for r in Catalog.load().plugin_reports}
    assert {"datasets", "torch", "keras", *BAD_PLUGINS} <= names  # and any other installed
    monkeypatch.setenv("GANZOO_PLUGINS", "torch")
    assert {r.name for r in Catalog.load(plugins=["keras"]).plugin_reports} == {"datasets",
                                                                                "keras"}


def test_cli_honours_ganzoo_plugins(cli, monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", "keras")
    result = cli("list")
    assert result.exit_code == 0, result.output
    assert ids_in(result.output) == KERAS_IDS
    missing = cli("info", "dcgan-torch")
    assert missing.exit_code == 2 and "Did you mean dcgan-keras" in missing.stderr
