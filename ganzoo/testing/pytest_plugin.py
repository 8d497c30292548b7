"""A pytest plugin for plugin authors: ``pytest_plugins = ["ganzoo.testing.pytest_plugin"]``
in a ``conftest.py`` gives every test the fixtures below.

::

    def test_my_model_conforms(ganzoo_check_model):
        ganzoo_check_model("lsmlp-torch")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ganzoo.testing.kit import ConformanceReport, check_model


@pytest.fixture
def ganzoo_check_model(tmp_path: Path) -> Callable[..., ConformanceReport]:
    """``check_model`` with its scratch files under the test's ``tmp_path``; a failure is an
    ``AssertionError`` (a ``ConformanceError``) naming each broken property."""

    def run(model_id: str, **options: Any) -> ConformanceReport:
        options.setdefault("workdir", tmp_path / "conformance")
        Path(options["workdir"]).mkdir(parents=True, exist_ok=True)
        return check_model(model_id, **options)

    return run
