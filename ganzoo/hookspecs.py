"""The hooks a ganzoo plugin may implement (pluggy project name ``ganzoo``).

Each hook receives a ``register`` callable, so a plugin never touches the catalog's internals.
A plugin is a module (or object) with functions decorated by :data:`hookimpl`, declared in its
distribution's entry points under the group ``ganzoo``. See docs/plugins.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "ganzoo"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_cards(register: Callable[..., Any]) -> None:
    """Register model cards of families this plugin introduces.

    Call ``register(path)`` with the path of a card TOML file (or ``register(text=...,
    source=...)``). Built-in families (mlp, dcgan, combined) need no registration.
    """


@hookspec
def register_models(register: Callable[..., Any]) -> None:
    """Register models: ``register(family, backend, factory, requires=(), install_hint="")``.

    ``factory`` is an import path ``"package.module:callable"`` returning a
    :class:`ganzoo.protocols.Backend`; it is imported only when the model is used, so listing
    models never imports a framework. ``requires`` names the modules the backend needs (used to
    show whether it is installed) and ``install_hint`` what to run when it is not. The model id
    is ``<family>-<backend>``.
    """


@hookspec
def register_datasets(register: Callable[..., Any]) -> None:
    """Register datasets: ``register(spec)`` with a :class:`ganzoo.data.DatasetSpec`."""


@hookspec
def register_metrics(register: Callable[..., Any]) -> None:
    """Register evaluation metrics: ``register(name, function, description)``."""
