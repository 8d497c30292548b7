"""torch weights <-> the canonical cross-backend names and layouts (docs/weights.md).

A network from :mod:`ganzoo_torch.builder` has module ``i`` for the card's layer ``i``, so its
``state_dict()`` keys are the canonical names without their ``<network>.`` prefix, in the
canonical layouts already. Only ``num_batches_tracked`` is torch-only; it is dropped on export
and ignored on import.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from ganzoo.architecture import NetSpec
from ganzoo.errors import WeightsFileError

TORCH_ONLY_BUFFERS = ("num_batches_tracked",)


def canonical_weights(net: nn.Module, prefix: str) -> dict[str, np.ndarray]:
    """The network's tensors (parameters, BN statistics, ``sn_u``) under canonical names,
    float32 numpy arrays in the layouts of docs/weights.md (the same as a Keras build's)."""
    return {
        f"{prefix}.{key}": value.detach().to("cpu", torch.float32).numpy().copy()
        for key, value in net.state_dict().items()
        if key.rsplit(".", 1)[-1] not in TORCH_ONLY_BUFFERS
    }


def load_canonical_weights(
    net: nn.Module, spec: NetSpec, prefix: str, weights: Mapping[str, np.ndarray]
) -> None:
    """Copy ``prefix.*`` tensors into ``net``; a missing, extra or mis-shaped one is an error.

    Keys under other prefixes are ignored (an export holds both networks).
    """
    expected = spec.tensor_shapes(prefix)
    given = {
        key: value for key, value in weights.items()
        if key.startswith(prefix + ".")
        and key.rsplit(".", 1)[-1] not in TORCH_ONLY_BUFFERS
    }
    missing = sorted(set(expected) - set(given))
    if missing:
        raise WeightsFileError(
            f"missing tensor '{missing[0]}' for the {prefix}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    extra = sorted(set(given) - set(expected))
    if extra:
        raise WeightsFileError(f"unexpected tensor '{extra[0]}': the {prefix} has no such tensor")
    for key, shape in expected.items():
        got = tuple(np.shape(given[key]))
        if got != tuple(shape):
            raise WeightsFileError(f"tensor '{key}' has shape {got}, expected {tuple(shape)}")
    state = net.state_dict()
    with torch.no_grad():
        for key in expected:
            target = state[key[len(prefix) + 1:]]
            source = torch.from_numpy(np.ascontiguousarray(given[key], dtype=np.float32))
            target.copy_(source)
