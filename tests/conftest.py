"""Fixtures shared by every test module. Keep this file small and generic."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from click.testing import Result

BUILTIN_PLUGINS = "torch,keras"


@pytest.fixture(autouse=True)
def _fresh_catalog() -> Iterator[None]:
    """The CLI caches its catalog per process; no test sees another test's plugins."""
    from ganzoo.cli.console import load_catalog

    load_catalog.cache_clear()
    yield
    load_catalog.cache_clear()


@pytest.fixture
def builtin_plugins(monkeypatch: pytest.MonkeyPatch) -> str:
    """Load only ganzoo's own plugins, whatever else is installed on the machine."""
    monkeypatch.setenv("GANZOO_PLUGINS", BUILTIN_PLUGINS)
    return BUILTIN_PLUGINS


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """``cli("list", "dcgan-*")`` runs the ganzoo app in process, on a wide terminal.

    Returns click's ``Result``: ``exit_code``, ``output`` (stdout and stderr), ``stderr``.
    """
    from typer.testing import CliRunner

    from ganzoo.cli import console as shared
    from ganzoo.cli.app import app

    # Rich tables must not truncate model ids. The CLI's consoles were built at import time and
    # keep a COLUMNS found then; clearing that makes them read COLUMNS at each print.
    monkeypatch.setenv("COLUMNS", "200")
    for console in (shared.console, shared.err_console):
        monkeypatch.setattr(console, "_width", None)
    runner = CliRunner()

    def invoke(*args: str, **kwargs: object) -> Result:
        return runner.invoke(app, list(args), **kwargs)  # type: ignore[arg-type]

    return invoke
