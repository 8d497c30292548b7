"""Entry point of the built-in torch plugin. Imports nothing heavy: the backend loads on use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganzoo.hookspecs import hookimpl

FAMILIES = ("mlp", "dcgan", "combined", "wgangp", "lsgan", "sngan", "cgan")
REQUIRES = ("torch",)


@hookimpl
def register_models(register: Callable[..., Any]) -> None:
    for family in FAMILIES:
        register(
            family=family,
            backend="torch",
            factory="ganzoo_torch.backend:create_backend",
            requires=REQUIRES,
            install_hint="pip install 'ganzoo[torch]'",
        )
