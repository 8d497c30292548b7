"""Plugin failures surface where a user meets them: an unknown model id names the plugin that
tried to register it and failed, and ``ganzoo plugins --strict`` fails a plugin author's CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_plugins import BAD_CARD, write_dist

from ganzoo.catalog import Catalog
from ganzoo.errors import UnknownModelError

PLUGINS = ("torch", "keras", "ganzoo_badcard", "ganzoo_broken")


@pytest.fixture
def failing_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    site = write_dist(tmp_path / "site", "ganzoo-test-failing", "0.1.0",
                      {"ganzoo_badcard": "ganzoo_test_f_badcard",
                       "ganzoo_broken": "ganzoo_test_f_broken"}, {
        "ganzoo_test_f_badcard": f"""
            from ganzoo.hookspecs import hookimpl

            @hookimpl
            def register_cards(register):
                register(text={BAD_CARD!r}, source="bad.toml")

            @hookimpl
            def register_models(register):
                register("bad", "torch", "ganzoo_torch.backend:create_backend")
        """,
        "ganzoo_test_f_broken": 'raise ImportError("no module named lsmlp_backend")\n',
    })
    monkeypatch.syspath_prepend(str(site))
    yield site
    import sys

    for name in [m for m in sys.modules if m.startswith("ganzoo_test_f_")]:
        del sys.modules[name]


def test_unknown_model_names_the_plugin_that_failed_to_register_it(failing_site):
    catalog = Catalog.load(plugins=PLUGINS)
    with pytest.raises(UnknownModelError) as caught:
        catalog.model("bad-torch")
    message = str(caught.value)
    assert message.startswith("Unknown model 'bad-torch'.")
    assert "Plugin 'ganzoo_badcard' tried to register it and failed" in message
    assert "unknown key 'descripton'" in message  # the card's own error, the root cause
    assert "no card defines family 'bad'" in message
    assert caught.value.exit_code == 2


def test_unknown_model_mentions_plugins_that_failed_to_load(failing_site):
    catalog = Catalog.load(plugins=["torch", "ganzoo_broken"])
    with pytest.raises(UnknownModelError, match="Plugin 'ganzoo_broken' failed and may have "
                                                "meant to register it; see 'ganzoo plugins'"):
        catalog.model("lsmlp-torch")


def test_unknown_model_without_plugin_failures_says_nothing_of_plugins(builtin_plugins):
    with pytest.raises(UnknownModelError) as caught:
        Catalog.load().model("lsmlp-torch")
    assert "lugin" not in str(caught.value)


def test_cli_info_of_a_refused_model_names_the_plugin(failing_site, cli, monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", ",".join(PLUGINS))
    result = cli("info", "bad-torch", "--no-layers")
    assert result.exit_code == 2
    assert "Plugin 'ganzoo_badcard' tried to register it and failed" in result.output


def test_plugins_strict_exits_non_zero_on_any_plugin_failure(failing_site, cli, monkeypatch):
    monkeypatch.setenv("GANZOO_PLUGINS", ",".join(PLUGINS))
    assert cli("plugins").exit_code == 0  # without --strict: a report, not a failure
    strict = cli("plugins", "--strict")
    assert strict.exit_code == 1
    assert "plugin problems in ganzoo_badcard, ganzoo_broken" in strict.output
    assert cli("plugins", "--strict", "--json").exit_code == 1


def test_plugins_strict_passes_when_every_plugin_loaded(builtin_plugins, cli):
    result = cli("plugins", "--strict")
    assert result.exit_code == 0, result.output
