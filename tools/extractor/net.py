"""The feature extractor's network in torch: used to train it, and in tests as the reference.

A maintainer's tool (``python -m tools.extractor.train``), not installed with ganzoo: evaluation
never needs torch, :mod:`ganzoo.metrics.extractor` runs the same network in numpy from the shipped
safetensors file. Tensor names here are the file's names, so the two stay in step.

Architecture (28x28x1 in [-1, 1]), chosen to train in a few minutes on two CPU cores: a 3x3
stride-2 convolution to 14x14x32, a 3x3 convolution (32 channels) and 2x2 max pooling to 7x7x32,
each with batch norm and ReLU; flattened (channel-major, torch's order) into a 128-unit dense layer
with ReLU, whose output is the *penultimate* layer FID and friends use; dropout, then a dense
layer to the class logits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ganzoo.metrics.extractor import BN_EPS

CHANNELS = 32
FEATURE_DIM = 128


def build_net(num_classes: int = 10) -> Any:
    """A fresh torch module (imported here so that importing this file needs no torch)."""
    from ganzoo.frameworks import import_torch

    torch = import_torch()
    nn = torch.nn

    class SmallCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv0 = nn.Conv2d(1, CHANNELS, 3, stride=2, padding=1, bias=False)
            self.bn0 = nn.BatchNorm2d(CHANNELS, eps=BN_EPS)
            self.conv1 = nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(CHANNELS, eps=BN_EPS)
            self.fc0 = nn.Linear(CHANNELS * 7 * 7, FEATURE_DIM)
            self.dropout = nn.Dropout(0.3)
            self.fc1 = nn.Linear(FEATURE_DIM, num_classes)

        def features(self, x: Any) -> Any:
            x = torch.relu(self.bn0(self.conv0(x)))
            x = torch.nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
            return torch.relu(self.fc0(x.flatten(1)))

        def forward(self, x: Any) -> Any:
            return self.fc1(self.dropout(self.features(x)))

    return SmallCNN()


def net_arrays(net: Any) -> dict[str, np.ndarray]:
    """The module's parameters and batch-norm statistics as float32 numpy arrays."""
    return {k: v.detach().cpu().numpy().astype(np.float32)
            for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def load_net(arrays: Mapping[str, np.ndarray], num_classes: int = 10) -> Any:
    """A torch module in eval mode with ``arrays`` (as :func:`net_arrays` names them) loaded."""
    from ganzoo.frameworks import import_torch

    torch = import_torch()
    net = build_net(num_classes)
    state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"extractor weights do not fit the network: missing {missing}, "
                         f"unexpected {unexpected}")
    return net.eval()
