"""Optimisers from a card's OptimizerSpec, and their state as flat numpy arrays.

State keys are ``optim.<network>.<param index>.<slot>`` (``optim.generator.0.exp_avg``,
``optim.generator.0.step``), the parameter index being the position in
``network.parameters()``; every value is a numpy array, so a checkpoint is plain safetensors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch

from ganzoo.cards import OptimizerSpec


def make_optimizer(
    spec: OptimizerSpec, params: Iterable[torch.nn.Parameter]
) -> torch.optim.Optimizer:
    """Adam or SGD with the card's settings, as one fused kernel per step where torch has one."""
    params = list(params)
    if spec.name == "adam":
        cls, settings = torch.optim.Adam, {"lr": spec["lr"], "eps": spec["epsilon"],
                                           "betas": (spec["beta1"], spec["beta2"])}
    elif spec.name == "sgd":
        cls, settings = torch.optim.SGD, {"lr": spec["lr"], "momentum": spec["momentum"]}
    else:  # pragma: no cover - cards are validated
        raise ValueError(f"unknown optimizer '{spec.name}'")
    # The fused kernel makes one pass over memory; on the CPU it measured ~5x faster than the
    # multi-tensor (foreach) path for these networks. Older builds lack it for some devices.
    try:
        return cls(params, fused=True, **settings)
    except RuntimeError:  # pragma: no cover - depends on the torch build
        return cls(params, foreach=True, **settings)


def optimizer_state(optimizer: torch.optim.Optimizer, network: str) -> dict[str, np.ndarray]:
    """The optimiser's per-parameter slots (moments, step counts) as numpy arrays."""
    out = {}
    for index, slots in optimizer.state_dict()["state"].items():
        for slot, value in slots.items():
            if isinstance(value, torch.Tensor):
                out[f"optim.{network}.{index}.{slot}"] = value.detach().cpu().numpy().copy()
    return out


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, network: str, state: Mapping[str, np.ndarray]
) -> None:
    """Restore what :func:`optimizer_state` returned (no keys: a fresh optimiser)."""
    prefix = f"optim.{network}."
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key.startswith(prefix):
            index, slot = key[len(prefix):].split(".", 1)
            slots.setdefault(int(index), {})[slot] = torch.from_numpy(np.array(value))
    # load_state_dict casts each slot to its parameter's device and dtype (step stays as torch
    # wants it for the fused/foreach kernels).
    current = optimizer.state_dict()
    optimizer.load_state_dict({"state": slots, "param_groups": current["param_groups"]})
    # Slots take their parameter's memory layout (channels-last kernels on CPU): the fused
    # kernels walk parameter and slots in memory order, so the layouts must agree.
    for param, param_slots in optimizer.state.items():
        for slot, value in param_slots.items():
            if isinstance(value, torch.Tensor) and value.shape == param.shape:
                param_slots[slot] = torch.empty_like(param, dtype=value.dtype).copy_(value)
