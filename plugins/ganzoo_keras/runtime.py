"""TensorFlow and Keras, imported in the one safe order (torch first), for every module here,
and the device a run asks for.

Import ``tf`` and ``keras`` from this module, never directly: importing tensorflow before
torchvision crashes some machines (see :mod:`ganzoo.frameworks`).
"""

from __future__ import annotations

import os

# Before TensorFlow is imported (here, or earlier by the catalog): no INFO/WARNING C++ logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ganzoo.devices import parse_device
from ganzoo.errors import UsageError
from ganzoo.frameworks import import_tensorflow
from ganzoo.quiet import quiet_absl

tf = import_tensorflow()
quiet_absl()

import keras  # noqa: E402  (only after tensorflow is imported the safe way)

__all__ = ["keras", "resolve_device", "tf"]


def resolve_device(device: str) -> str:
    """A TensorFlow device name for ``device`` (:func:`ganzoo.devices.parse_device`'s
    vocabulary: auto, cpu, cuda, cuda:N)."""
    asked = parse_device(device)
    gpus = tf.config.list_logical_devices("GPU")
    if asked.kind == "auto":
        return gpus[0].name if gpus else "/CPU:0"
    if asked.kind == "cpu":
        return "/CPU:0"
    n = asked.index or 0
    if n >= len(gpus):
        raise UsageError(
            f"device '{device}' asked for, but TensorFlow sees {len(gpus)} GPU(s). "
            "Use --device cpu, or install a CUDA build of TensorFlow."
        )
    return gpus[n].name
