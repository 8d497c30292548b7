"""TensorFlow and Keras, imported in the one safe order (torch first), for every module here.

Import ``tf`` and ``keras`` from this module, never directly: importing tensorflow before
torchvision crashes some machines (see :mod:`ganzoo.frameworks`).
"""

from __future__ import annotations

import contextlib
import functools
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

__all__ = ["keras", "mirrored_strategy", "resolve_device", "tf"]


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


def _logical_cpus(count: int) -> list[str]:
    """Names of ``count`` logical CPU devices, configuring them if TensorFlow has not started.

    Splitting the CPU is only possible before TensorFlow initialises its devices (the first
    op, or any ``list_logical_devices`` call); afterwards the split already made must do.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    with contextlib.suppress(RuntimeError):  # already initialised: checked below
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    names = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(names) < count:
        raise UsageError(
            f"--devices {count} on CPU needs {count} logical CPU devices, but TensorFlow was "
            f"already initialised with {len(names)} in this process. Start a fresh process "
            "(the CPU can only be split before TensorFlow's first use).")
    return names[:count]


def mirrored_strategy(count: int, device: str) -> tf.distribute.MirroredStrategy:
    """A ``MirroredStrategy`` over ``count`` devices of the kind ``device`` asks for.

    GPUs: the first ``count`` (an error if there are fewer). CPU (``cpu``, or ``auto`` without a
    GPU): ``count`` logical CPU devices, set up on first use (see :func:`_logical_cpus`).
    One strategy per set of devices and process: a second strategy over the same devices
    reuses the first one's collective keys, and their all-reduces get mixed up.
    """
    kind = parse_device(device).kind
    gpus = tf.config.list_physical_devices("GPU")
    if kind == "cuda" or (kind == "auto" and gpus):
        names = [d.name for d in tf.config.list_logical_devices("GPU")]
        if len(names) < count:
            raise UsageError(f"--devices {count} asked for, but TensorFlow sees {len(names)} "
                             "GPU(s)")
        names = names[:count]
    else:
        names = _logical_cpus(count)
    return _strategy(tuple(names))


@functools.cache
def _strategy(names: tuple[str, ...]) -> tf.distribute.MirroredStrategy:
    return tf.distribute.MirroredStrategy(list(names))
