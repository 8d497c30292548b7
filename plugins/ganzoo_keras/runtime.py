"""TensorFlow and Keras, imported in the one safe order (torch first), for every module here.

Import ``tf`` and ``keras`` from this module, never directly: importing tensorflow before
torchvision crashes some machines (see :mod:`ganzoo.frameworks`).
"""

from __future__ import annotations

from ganzoo.errors import UsageError
from ganzoo.frameworks import import_tensorflow

tf = import_tensorflow()

import keras  # noqa: E402  (only after tensorflow is imported the safe way)

__all__ = ["keras", "resolve_device", "tf"]


def resolve_device(device: str) -> str:
    """A TensorFlow device name for ``auto`` | ``cpu`` | ``cuda`` (``cuda:N`` accepted)."""
    gpus = tf.config.list_logical_devices("GPU")
    kind, _, index = device.partition(":")
    if kind == "auto":
        return gpus[0].name if gpus else "/CPU:0"
    if kind == "cpu":
        return "/CPU:0"
    if kind in ("cuda", "gpu"):
        n = int(index or 0)
        if n >= len(gpus):
            raise UsageError(
                f"device '{device}' asked for, but TensorFlow sees {len(gpus)} GPU(s). "
                "Use --device cpu, or install a CUDA build of TensorFlow."
            )
        return gpus[n].name
    raise UsageError(f"unknown device '{device}' (expected auto, cpu or cuda)")
