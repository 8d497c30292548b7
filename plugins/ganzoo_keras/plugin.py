"""Entry point of the built-in keras plugin. Imports nothing heavy: the backend loads on use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganzoo.hookspecs import hookimpl

FAMILIES = ("mlp", "dcgan", "combined", "wgangp", "lsgan", "sngan", "cgan")
REQUIRES = ("tensorflow", "keras")


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    for family in FAMILIES:
        register(
            family=family,
            backend="keras",
            factory="ganzoo_keras.backend:create_backend",
            requires=REQUIRES,
            install_hint="pip install 'ganzoo[keras]'",
        )
