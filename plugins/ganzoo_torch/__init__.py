"""ganzoo's built-in PyTorch plugin: the card families on torch, and a public network builder.

The public names below (docs/plugins.md, "Building networks from a card") let a plugin with a
trainer of its own reuse ganzoo's card-to-network builder and canonical weight names. They are
loaded on first use, so importing this package (as ``ganzoo list`` does) never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "build_networks": "builder",
    "build_network": "builder",
    "canonical_weights": "canonical",
    "load_canonical_weights": "canonical",
    "to_nhwc_numpy": "runtime",
    "nhwc_to_tensor": "runtime",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
