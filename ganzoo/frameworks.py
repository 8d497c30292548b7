"""Importing the deep-learning frameworks in the one order that is safe in a single process.

Importing tensorflow before torchvision (or anything that pulls in triton) crashes the process
with a segfault on some machines; importing torch first works. Every ganzoo code path that needs
tensorflow goes through :func:`import_tensorflow`, which imports torch first when it is
installed, so ``ganzoo compare`` can load a Keras and a torch model in one process whatever the
order the user names them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable
from types import ModuleType


def _installed(name: str) -> bool:
    return name in sys.modules or importlib.util.find_spec(name) is not None


def import_torch() -> ModuleType:
    """Import torch (and torchvision when installed, so its operators register first)."""
    import torch

    if _installed("torchvision"):
        import torchvision  # noqa: F401
    return torch


def import_tensorflow() -> ModuleType:
    """Import tensorflow safely: torch first if installed, quiet logs, GPU memory growth on."""
    if "tensorflow" not in sys.modules:
        if _installed("torch"):
            import_torch()
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ganzoo.quiet import quiet_absl, quiet_native_stderr

    with quiet_native_stderr():
        import tensorflow as tf
    quiet_absl()

    try:
        # Let a torch model share the GPU with a Keras one (ganzoo compare).
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass  # already initialised: the setting only applies before first use
    return tf


def prepare_imports(modules: Iterable[str]) -> None:
    """Import what a backend ``requires`` in the safe order, before the backend module runs."""
    modules = set(modules)
    if "torch" in modules:
        import_torch()
    if modules & {"tensorflow", "keras"}:
        import_tensorflow()
