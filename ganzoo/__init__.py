"""ganzoo: a plugin-based zoo of small GANs with a model registry.

The core never imports torch or tensorflow at import time; backends arrive as plugins.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("ganzoo")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
