"""Several devices: one process training on N GPUs or N logical CPUs under a
``tf.distribute.MirroredStrategy`` (``--devices N``); nothing is launched.

The trainer creates its networks, optimisers and noise generator under the strategy's scope
and runs each step once per replica (see :mod:`ganzoo_keras.trainer`).
"""

from __future__ import annotations

import contextlib
import functools

from ganzoo.devices import parse_device
from ganzoo.errors import UsageError
from ganzoo_keras.runtime import tf


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
