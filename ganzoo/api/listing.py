"""``ganzoo.models``: the registered model ids, filtered like timm's ``list_models``."""

from __future__ import annotations

from typing import Any


def catalog() -> Any:
    """The process's catalog, shared with the CLI (plugins chosen by ``$GANZOO_PLUGINS``)."""
    from ganzoo.cli.console import load_catalog

    return load_catalog()


def models(pattern: str = "*", *, installed: bool = False) -> list[str]:
    """Model ids matching a shell-style ``pattern`` (``"dcgan-*"``, ``"*-torch"``), sorted.

    ``installed=True`` keeps only models whose backend's packages are importable (checked
    without importing them). Never imports a framework.
    """
    return [m.model_id for m in catalog().list_models(pattern)
            if not installed or m.installed]
