"""ganzoo's built-in TF-Keras plugin: the card families on Keras 3, and a public builder.

The public names below (docs/plugins.md, "Building networks from a card") let a plugin with a
trainer of its own reuse ganzoo's card-to-network builder and canonical weight names. They are
loaded on first use, so importing this package (as ``ganzoo list`` does) never imports
TensorFlow; the first use imports it in the safe order (torch first, see ganzoo.frameworks).
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "build_networks": "builder",
    "build_network": "builder",
    "canonical_weights": "canonical",
    "load_canonical_weights": "canonical",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
