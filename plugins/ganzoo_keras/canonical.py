"""Keras weights <-> the canonical cross-backend layout (docs/weights.md).

Canonical tensors are named ``<prefix>.<layer index>.<tensor>`` and use torch-native layouts:

=================  ==========================  ==========================
Keras layer        Keras variable              canonical tensor
=================  ==========================  ==========================
Dense              kernel (in, out)            weight (out, in)
Conv2D             kernel (kh, kw, in, out)    weight (out, in, kh, kw)
Conv2DTranspose    kernel (kh, kw, out, in)    weight (in, out, kh, kw)
any                bias                        bias
BatchNormalization gamma / beta                weight / bias
BatchNormalization moving_mean / _variance     running_mean / running_var
LayerNormalization gamma / beta                weight / bias
Spectral*          sn_u (units,)               sn_u (units,)
LabelConcat,       embeddings (classes, dim)   embedding.weight (classes, dim)
LabelProjection
=================  ==========================  ==========================

A conditional network's layers are found by name (``<prefix>.<i>``, ``<prefix>.embedding``),
not position: its functional model also holds input and ``Add`` layers.

``Spectral*`` are the spectrally normalised layers of :mod:`ganzoo_keras.layers`; their
kernels map as the plain layer's.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ganzoo.architecture import NetSpec
from ganzoo.errors import WeightsFileError
from ganzoo_keras.runtime import keras

# Both convolution kernels reach the canonical layout with the same axis permutation.
_TO_CANONICAL = {"Dense": (1, 0), "Conv2D": (3, 2, 0, 1), "Conv2DTranspose": (3, 2, 0, 1),
                 "SpectralDense": (1, 0), "SpectralConv2D": (3, 2, 0, 1),
                 "SpectralConv2DTranspose": (3, 2, 0, 1)}
_BN_NAMES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
             "moving_variance": "running_var"}
_NORM_CLASSES = ("BatchNormalization", "LayerNormalization")


def _pairs(model: keras.Model, prefix: str) -> list[tuple[str, object, tuple[int, ...] | None]]:
    """(canonical name, Keras variable, permutation to canonical or None) for every weight."""
    out = []
    for i, layer in enumerate(model.layers):
        cls = type(layer).__name__
        # A Sequential's layer i is named <prefix>.i; a functional model's by name too.
        index = layer.name[len(prefix) + 1:] if layer.name.startswith(prefix + ".") else i
        for var in layer.weights:
            short = var.name  # kernel, bias, sn_u, gamma, beta, moving_mean, moving_variance
            if short == "embeddings":
                out.append((f"{prefix}.embedding.weight", var, None))
            elif cls in _NORM_CLASSES:
                out.append((f"{prefix}.{index}.{_BN_NAMES[short]}", var, None))
            elif short == "kernel":
                out.append((f"{prefix}.{index}.weight", var, _TO_CANONICAL[cls]))
            elif short in ("bias", "sn_u"):
                out.append((f"{prefix}.{index}.{short}", var, None))
            else:  # pragma: no cover - the builder only makes the layers above
                raise ValueError(f"no canonical name for {cls} variable '{short}'")
    return out


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(a) for a in np.argsort(perm))


def to_canonical(model: keras.Model, prefix: str) -> dict[str, np.ndarray]:
    """The model's weights as float32 numpy arrays under canonical names and layouts."""
    out = {}
    for name, var, perm in _pairs(model, prefix):
        value = np.asarray(var.numpy(), dtype=np.float32)
        out[name] = np.ascontiguousarray(value.transpose(perm) if perm else value)
    return out


def from_canonical(model: keras.Model, prefix: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Assign canonical ``prefix.*`` arrays to the model's weights.

    Every expected tensor must be present with its canonical shape, and no other
    ``prefix.*`` tensor may be present; otherwise :class:`WeightsFileError` names the tensor.
    """
    pairs = _pairs(model, prefix)
    expected = {name for name, _, _ in pairs}
    unexpected = sorted(k for k in arrays if k.startswith(prefix + ".") and k not in expected)
    if unexpected:
        raise WeightsFileError(
            f"tensor '{unexpected[0]}' does not belong to this {prefix} architecture "
            f"({len(unexpected)} unexpected tensor(s)); was it exported from another recipe?"
        )
    values = []
    for name, var, perm in pairs:
        if name not in arrays:
            raise WeightsFileError(f"tensor '{name}' is missing from the weights")
        value = np.asarray(arrays[name])
        want = tuple(var.shape)
        canonical_shape = tuple(want[a] for a in perm) if perm else want
        if value.shape != canonical_shape:
            raise WeightsFileError(
                f"tensor '{name}' has shape {value.shape}, expected {canonical_shape}"
            )
        values.append((var, value.transpose(_inverse(perm)) if perm else value))
    # Assign only once every tensor is checked, so a bad file leaves the model untouched.
    for var, value in values:
        var.assign(value.astype(np.float32))


def canonical_weights(model: keras.Model, prefix: str) -> dict[str, np.ndarray]:
    """Public name of :func:`to_canonical` (``ganzoo_keras.canonical_weights``), the same
    signature as ``ganzoo_torch.canonical_weights``."""
    return to_canonical(model, prefix)


def load_canonical_weights(model: keras.Model, spec: NetSpec, prefix: str,
                           weights: Mapping[str, np.ndarray]) -> None:
    """Load canonical ``prefix.*`` tensors into a model built from ``spec``.

    The same signature as ``ganzoo_torch.load_canonical_weights``; besides
    :func:`from_canonical`'s checks, the model must hold exactly the tensors ``spec`` names
    (:class:`WeightsFileError` otherwise), so a model built from another card is refused.
    """
    have = {name: tuple(np.shape(value)) for name, value in to_canonical(model, prefix).items()}
    want = {name: tuple(shape) for name, shape in spec.tensor_shapes(prefix).items()}
    if have != want:
        differ = sorted(set(have) ^ set(want)) or sorted(k for k in want if have[k] != want[k])
        raise WeightsFileError(
            f"the Keras {prefix} was not built from this spec (tensor '{differ[0]}' differs); "
            "build it with ganzoo_keras.build_network(spec, ...)"
        )
    from_canonical(model, prefix, weights)
