"""What a backend supports, checked before anything runs, and the hand-over of launching.

The core knows no launcher: a backend that trains on several devices says so in its
``capabilities`` and implements ``launch(devices, argv)`` (torchrun for ganzoo's torch plugin,
nothing to launch for Keras' MirroredStrategy) and ``rank()``. See the ``Backend`` protocol in
:mod:`ganzoo.protocols` and docs/plugins.md, "Capabilities and launching".
"""

from __future__ import annotations

from typing import Any

from ganzoo.devices import parse_device
from ganzoo.errors import PluginError, UsageError
from ganzoo.protocols import Capabilities, TrainConfig

# Where rank 0 of a launched world writes the training's status for the launching CLI; set by
# the core before it calls ``backend.launch`` and inherited by the processes it starts.
STATUS_ENV = "GANZOO_STATUS_FILE"


def capabilities_of(backend: Any) -> Capabilities:
    """The backend's declared :class:`Capabilities` (an attribute, or a method returning them)."""
    declared = getattr(backend, "capabilities", None)
    if callable(declared):
        declared = declared()
    if declared is None:
        return Capabilities()
    if not isinstance(declared, Capabilities):
        raise PluginError(f"backend {type(backend).__name__}.capabilities is "
                          f"{type(declared).__name__}, not ganzoo.protocols.Capabilities")
    return declared


def check_supported(backend: Any, config: TrainConfig, backend_name: str = "") -> None:
    """Refuse, in one line (UsageError, exit 2), what ``config`` asks and the backend lacks."""
    caps = capabilities_of(backend)
    who = f"{config.model_id} (backend {backend_name or type(backend).__name__})"
    if config.devices > 1 and not caps.multi_device:
        raise UsageError(f"{who} cannot train on several devices; drop --devices "
                         f"{config.devices} (its backend declares: "
                         f"{', '.join(caps.supported()) or 'one CPU process'})")
    if config.devices > 1 and not callable(getattr(backend, "launch", None)):
        raise PluginError(f"{who} declares multi_device but has no launch(devices, argv)")
    if parse_device(config.device).kind == "cuda" and not caps.cuda:
        raise UsageError(f"{who} cannot run on CUDA; use --device cpu")
    if config.amp and not caps.amp:
        raise UsageError(f"{who} has no mixed precision; drop --amp")
    if config.compile and not caps.compile:
        raise UsageError(f"{who} cannot compile; drop --compile")


def rank_of(backend: Any) -> int | None:
    """This process's rank in a world the backend's launcher started (None: not launched)."""
    rank = getattr(backend, "rank", None)
    return rank() if callable(rank) else None


def is_main(backend: Any) -> bool:
    """Whether this process writes, samples, checkpoints and registers (rank 0, or alone)."""
    return (rank_of(backend) or 0) == 0
