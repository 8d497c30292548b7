"""The ``ganzoo`` entry point of ganzoo-plugin-example.

ganzoo imports this module when it loads plugins (``ganzoo list`` does), so it imports nothing
heavy: no torch, no tensorflow. It registers one card (the ``tinymlp`` family, shipped inside
this package) and one model for it, ``tinymlp-torch``, built by ganzoo's own torch backend,
which builds any card's layers. A plugin with its own backend would name its own factory.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

from ganzoo.hookspecs import hookimpl

CARD = "tinymlp.toml"


@hookimpl
def register_cards(register: Callable[..., Any]) -> None:
    # The card travels with the package (package data), found wherever pip installed it.
    register(resources.files("ganzoo_plugin_example") / CARD)


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    register(
        family="tinymlp",
        backend="torch",
        # Imported only when the model is used (train, info with layers), never by `list`.
        factory="ganzoo_torch.backend:create_backend",
        requires=("torch",),
        install_hint="pip install 'ganzoo[torch]'",
    )
