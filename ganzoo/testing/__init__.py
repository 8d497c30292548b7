"""The conformance kit: does a registered model keep every promise the core relies on?

``check_model("lsgan-torch")`` runs each check of :data:`CHECKS` on tiny synthetic batches (and
one two-step run of the core's training shell on a bundled split) and raises
:class:`ConformanceError`, an ``AssertionError`` naming every broken property, or returns a
:class:`ConformanceReport`. A plugin author calls it from their own tests, directly or through
the pytest fixture of :mod:`ganzoo.testing.pytest_plugin`. Importing this package imports no
framework. See docs/plugins.md, "Checking a plugin: ganzoo.testing".
"""

from __future__ import annotations

from ganzoo.testing.kit import (
    CHECKS,
    ConformanceError,
    ConformanceReport,
    check_model,
    model_ids,
)

__all__ = ["CHECKS", "ConformanceError", "ConformanceReport", "check_model", "model_ids"]
