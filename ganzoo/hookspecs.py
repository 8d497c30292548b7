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


@hookspec
def register_losses(register: Callable[..., Any]) -> None:
    """Register GAN losses (see :mod:`ganzoo.losses` and docs/plugins.md).

    ``register(name, summary=..., discriminator=..., generator=..., output="probability" or
    "score", steps=(...), concat=True, reference="")`` declares a loss, backend-neutrally;
    ``register(name, backend="torch", implementation=obj_or_"module:attr")`` adds one backend's
    implementation (an object with ``real(out)``, ``fake(out)`` and ``generator(out)``, each a
    mean over the batch). Both can go in one call. A card names the loss with ``loss = name``.
    """


@hookspec
def register_penalties(register: Callable[..., Any]) -> None:
    """Register discriminator penalties: ``register(name, summary=..., formula=...,
    uses_fake=True)`` declares one, ``register(name, backend=..., implementation=...)`` adds a
    backend's implementation (a callable ``(discriminator, real, fake, weight, uniform)`` that
    returns the weighted penalty). A card names it with ``penalty = { name, weight }``.
    """
