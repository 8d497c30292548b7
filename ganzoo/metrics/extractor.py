"""The shipped domain feature extractors, run in plain numpy (no framework needed to evaluate).

Each dataset has ``weights/<dataset>-extractor.safetensors`` (the network of
``tools/extractor/net.py``, trained by ``python -m tools.extractor.train`` in a checkout) and a
JSON card beside it with its accuracy, training data, command and sha256. Loading checks the
sha256, reads tensors with safetensors (nothing is unpickled) and folds batch norm into the
convolutions. Generated and real images take the same path: quantised to uint8 first, as a
saved PNG would be, then scaled to [-1, 1].
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.errors import UsageError, WeightsFileError
from ganzoo.images import to_uint8

WEIGHTS_DIR = Path(__file__).parent / "weights"
EXTRACTOR_FORMAT = "ganzoo-extractor"
ARCHITECTURE = ("smallcnn-v1: 3x3/2 conv 32, 3x3 conv 32, 2x2 max pool (batch norm, ReLU), "
                "dense 128 (ReLU, the features), dense to classes")
BN_EPS = 1e-5  # the batch norms' epsilon (tools/extractor/net.py trains with it)
BATCH = 500  # images per forward pass: bounds memory (~30 MB) without slowing BLAS down


def weights_path(dataset: str, directory: Path = WEIGHTS_DIR) -> Path:
    return Path(directory) / f"{dataset}-extractor.safetensors"


def card_path(dataset: str, directory: Path = WEIGHTS_DIR) -> Path:
    return Path(directory) / f"{dataset}-extractor.json"


def available_extractors(directory: Path = WEIGHTS_DIR) -> list[str]:
    """Datasets that have a shipped extractor."""
    return sorted(p.name.removesuffix("-extractor.json")
                  for p in Path(directory).glob("*-extractor.json"))


@dataclass(frozen=True)
class _Conv:
    weight: np.ndarray  # (3, 3, Cin, Cout), batch norm folded in
    bias: np.ndarray  # (Cout,)
    stride: int
    pool: bool


@dataclass(frozen=True)
class Extractor:
    """A trained classifier whose penultimate layer gives features (N, feature_dim)."""

    name: str
    dataset: str
    sha256: str
    card: dict[str, Any]
    convs: tuple[_Conv, ...] = field(repr=False)
    dense: tuple[np.ndarray, np.ndarray] = field(repr=False)  # (in, D) in NHWC order, (D,)
    head: tuple[np.ndarray, np.ndarray] = field(repr=False)  # (D, classes), (classes,)
    scale: float = 1.0  # features are multiplied by it (mean square 1 on the training data)

    @property
    def feature_dim(self) -> int:
        return int(self.dense[0].shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.head[0].shape[1])

    def describe(self) -> dict[str, Any]:
        """What a protocol records about the extractor."""
        return {"name": self.name, "sha256": self.sha256, "feature_dim": self.feature_dim,
                "feature_scale": self.scale, "trained_on": self.card.get("trained_on", ""),
                "accuracy": self.card.get("accuracy"),
                "accuracy_on": self.card.get("accuracy_on", "")}

    def features_and_probs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate features (N, D) float64 and class probabilities (N, C) of NHWC images.

        ``images`` are uint8 (a dataset) or float in [-1, 1] (a generator), quantised to uint8.
        """
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.dtype != np.uint8:
            images = to_uint8(images)
        feats = np.zeros((len(images), self.feature_dim), dtype=np.float32)
        for i in range(0, len(images), BATCH):
            feats[i:i + BATCH] = self._features(
                images[i:i + BATCH].astype(np.float32) / 127.5 - 1.0)
        probs = _softmax(feats @ self.head[0] + self.head[1])
        return feats.astype(np.float64), probs.astype(np.float64)

    def _features(self, x: np.ndarray) -> np.ndarray:
        for conv in self.convs:
            x = np.maximum(_conv3x3(x, conv.weight, conv.stride) + conv.bias, 0.0)
            if conv.pool:
                b, h, w, c = x.shape
                x = x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
        return np.maximum(x.reshape(len(x), -1) @ self.dense[0] + self.dense[1], 0.0) * self.scale


def _conv3x3(x: np.ndarray, weight: np.ndarray, stride: int) -> np.ndarray:
    """3x3 convolution, padding 1, of NHWC ``x`` as nine shifted matrix products (no im2col)."""
    b, h, w, _ = x.shape
    ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((b, ho, wo, weight.shape[-1]), dtype=np.float32)
    for dy in range(3):
        for dx in range(3):
            window = padded[:, dy:dy + stride * ho:stride, dx:dx + stride * wo:stride, :]
            out += window @ weight[dy, dx]
    return out


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def load_extractor(dataset: str, directory: Path = WEIGHTS_DIR) -> Extractor:
    """The shipped extractor of ``dataset``, its file checked against the card's sha256."""
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import load_file

    path, card_file = weights_path(dataset, directory), card_path(dataset, directory)
    if not path.is_file() or not card_file.is_file():
        known = ", ".join(available_extractors(directory)) or "none"
        raise UsageError(
            f"No feature extractor for dataset '{dataset}' (have: {known}). Train one with "
            f"'python -m tools.extractor.train --data {dataset}' in a ganzoo checkout.")
    card = json.loads(card_file.read_text(encoding="utf-8"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != card.get("sha256"):
        raise WeightsFileError(f"{path} has sha256 {digest}, but {card_file.name} records "
                               f"{card.get('sha256')}: the extractor was changed or corrupted")
    try:
        arrays = load_file(str(path))
        with safe_open(str(path), framework="numpy") as f:
            header = json.loads((f.metadata() or {}).get("ganzoo", "{}"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsFileError(f"{path} is not a readable safetensors file: {exc}") from None
    if header.get("format") != EXTRACTOR_FORMAT:
        raise WeightsFileError(f"{path} is not a ganzoo feature extractor")
    scale = float(header.get("feature_scale", 1.0))
    convs, dense, (head_w, head_b) = _fold(arrays)
    # The head reads unscaled features: fold the inverse scale into its weights.
    return Extractor(header.get("name", f"{dataset}-extractor"), dataset, digest, card, convs,
                     dense, (head_w / np.float32(scale), head_b), scale)


def _fold(arrays: dict[str, np.ndarray]) -> tuple[tuple[_Conv, ...], tuple, tuple]:
    """Fold batch norm (eval statistics) into the convolutions; reorder the dense layer to NHWC."""
    convs = []
    for i, (stride, pool) in enumerate(((2, False), (1, True))):
        scale = arrays[f"bn{i}.weight"] / np.sqrt(arrays[f"bn{i}.running_var"] + BN_EPS)
        weight = arrays[f"conv{i}.weight"] * scale[:, None, None, None]  # (O, I, 3, 3)
        bias = arrays[f"bn{i}.bias"] - arrays[f"bn{i}.running_mean"] * scale
        convs.append(_Conv(np.ascontiguousarray(weight.transpose(2, 3, 1, 0), np.float32),
                           bias.astype(np.float32), stride, pool))
    w = arrays["fc0.weight"]  # (D, C*H*W), flattened channel-major by torch
    channels = convs[-1].weight.shape[-1]
    side = round((w.shape[1] // channels) ** 0.5)
    w = w.reshape(-1, channels, side, side).transpose(0, 2, 3, 1).reshape(len(w), -1)
    return (tuple(convs),
            (np.ascontiguousarray(w.T, np.float32), arrays["fc0.bias"].astype(np.float32)),
            (np.ascontiguousarray(arrays["fc1.weight"].T, np.float32),
             arrays["fc1.bias"].astype(np.float32)))
