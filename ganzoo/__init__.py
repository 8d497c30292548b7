"""ganzoo: a plugin-based zoo of small GANs with a model registry.

The core never imports torch or tensorflow at import time; backends arrive as plugins.
"""

import sys as _sys
import types as _types
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("ganzoo")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

# The Python API (docs/python.md), imported on first use so that ``import ganzoo`` stays light.
_API = ("models", "load", "train", "evaluate", "compare", "LoadedGenerator", "EvalResult",
        "CompareResult")


def __getattr__(name: str) -> object:
    if name in _API:
        import ganzoo.api as api

        if name == "compare":
            # ``ganzoo.compare`` is also the comparison package; importing it makes it the
            # attribute, so the package itself is made callable (see _CallableCompare).
            import ganzoo.compare

            return ganzoo.compare
        return getattr(api, name)
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


class _CallableCompare(_types.ModuleType):
    """The ``ganzoo.compare`` package, also callable as the API's ``ganzoo.compare(refs, ...)``.

    A package and a function cannot share the name ``ganzoo.compare``: whichever is imported
    last would win. So the package is the attribute, and calling it calls
    :func:`ganzoo.api.compare`; ``from ganzoo.compare import run_compare`` works as before.
    """

    def __call__(self, *args: object, **kwargs: object) -> object:
        from ganzoo.api import compare

        return compare(*args, **kwargs)  # type: ignore[arg-type]


class _Ganzoo(_types.ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        # The import system sets ``ganzoo.compare`` once the package is imported, by any route.
        if name == "compare" and type(value) is _types.ModuleType:
            value.__class__ = _CallableCompare
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Ganzoo
