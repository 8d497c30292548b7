"""A backend-neutral vocabulary of layers, so a model card can describe a network once.

Backends build their networks from these specs (one builder per backend, not one per family),
parameter counts and output shapes are computed here without importing a framework, and the
canonical weight names (``generator.<index>.<tensor>``) follow from a layer's position.

Conventions (documented in docs/weights.md):
- image tensors are channels-last in the spec (``reshape`` targets and ``flatten`` order are
  H, W, C), whatever layout a backend computes in;
- ``same`` padding means TensorFlow's rule (extra padding after, not before);
- ``batch_norm.momentum`` has the Keras meaning (weight of the old statistic); torch's momentum
  is ``1 - momentum``;
- ``spectral_norm = true`` on ``dense``/``conv``/``conv_transpose`` divides the kernel by its
  largest singular value, estimated by one power iteration per call from a stored vector ``u``
  (one entry per output unit, canonical name ``<prefix>.<i>.sn_u``, a non-trainable weight);
  a training-mode call stores the new ``u``, an inference call does not (Miyato et al. 2018);
- ``layer_norm`` normalises each position over its last (channel) axis, with one scale and
  one offset per channel, as Keras' ``LayerNormalization(axis=-1)`` does;
- a class label is a network's second input (:class:`LabelInput`): ``concat`` joins the
  label's embedding to the input vector before layer 0 (a conditional generator), and
  ``projection`` adds ``<embed(y), h>`` to the output, ``h`` being the last layer's input
  (Miyato & Koyama 2018's projection discriminator); the table is ``<prefix>.embedding.weight``
  of shape (classes, dim).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ganzoo.errors import CardError

# kind -> {option: default}; an option without a default (None) is required.
LAYER_KINDS: dict[str, dict[str, Any]] = {
    "dense": {"units": None, "bias": True, "spectral_norm": False},
    "conv": {
        "filters": None,
        "kernel": None,
        "stride": 1,
        "padding": "same",
        "bias": True,
        "spectral_norm": False,
    },
    "conv_transpose": {
        "filters": None,
        "kernel": None,
        "stride": 1,
        "padding": "same",
        "bias": True,
        "spectral_norm": False,
    },
    "batch_norm": {"momentum": 0.99, "epsilon": 1e-3},
    "layer_norm": {"epsilon": 1e-3},
    "leaky_relu": {"slope": 0.3},
    "relu": {},
    "tanh": {},
    "sigmoid": {},
    "dropout": {"rate": None},
    "reshape": {"shape": None},
    "flatten": {},
}

PARAMETRIC_KINDS = ("dense", "conv", "conv_transpose", "batch_norm", "layer_norm")
# Layers with a kernel that ``spectral_norm = true`` can normalise.
KERNEL_KINDS = ("dense", "conv", "conv_transpose")
# Axis of the output units in each kind's canonical weight (dense and conv: (out, in, ...);
# conv_transpose: (in, out, kh, kw)): the axis ``sn_u`` runs along.
OUTPUT_AXIS = {"dense": 0, "conv": 0, "conv_transpose": 1}


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its kind and its options (defaults filled in)."""

    kind: str
    options: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.options[key]

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str) -> LayerSpec:
        """Validate a raw mapping such as ``{type = "dense", units = 256}``."""
        if "type" not in raw:
            raise CardError(f"{where}: layer has no 'type' (one of {', '.join(LAYER_KINDS)})")
        kind = raw["type"]
        if kind not in LAYER_KINDS:
            raise CardError(
                f"{where}: unknown layer type '{kind}' (expected one of {', '.join(LAYER_KINDS)})"
            )
        allowed = LAYER_KINDS[kind]
        options = {}
        for key, value in raw.items():
            if key == "type":
                continue
            if key == "spectral_norm" and key not in allowed:
                raise CardError(
                    f"{where}: layer type '{kind}' has no kernel to normalise; "
                    f"spectral_norm applies to {', '.join(KERNEL_KINDS)}"
                )
            if key not in allowed:
                raise CardError(
                    f"{where}: unknown key '{key}' for layer type '{kind}' "
                    f"(allowed: {', '.join(allowed) or 'none'})"
                )
            options[key] = value
        for key, default in allowed.items():
            if key not in options:
                if default is None:
                    raise CardError(f"{where}: layer type '{kind}' needs key '{key}'")
                options[key] = default
        for key, value in options.items():
            _check_option(key, value, f"{where}.{key}")
        return cls(kind, options)


_POSITIVE_INTS = ("units", "filters", "kernel", "stride")
_NUMBERS = {"momentum": (0.0, 1.0), "epsilon": (0.0, 1.0), "slope": (0.0, 1.0),
            "rate": (0.0, 1.0)}


def _check_option(key: str, value: Any, where: str) -> None:
    """Type and range of one layer option; the error names the card key."""
    if key in _POSITIVE_INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CardError(f"{where}: expected a positive integer, got {value!r}")
    elif key in _NUMBERS:
        low, high = _NUMBERS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not low <= value < high:
            raise CardError(f"{where}: expected a number in [{low:g}, {high:g}), got {value!r}")
    elif key in ("bias", "spectral_norm"):
        if not isinstance(value, bool):
            raise CardError(f"{where}: expected true or false, got {value!r}")
    elif key == "padding":
        if value not in ("same", "valid"):
            raise CardError(f"{where}: padding must be 'same' or 'valid', got {value!r}")
    elif key == "shape" and (
        not isinstance(value, list) or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise CardError(f"{where}: expected a list of positive integers, got {value!r}")


@dataclass(frozen=True)
class LayerSummary:
    """A row of a layer-by-layer summary."""

    index: int
    kind: str
    output_shape: tuple[int, ...]
    trainable: int
    non_trainable: int


LABEL_MODES = ("concat", "projection")


@dataclass(frozen=True)
class LabelInput:
    """A class label as a network's second input, through an embedding table (classes, dim).

    ``concat``: ``embed(y)`` is joined to the (flat) input before layer 0, which so sees
    ``input + dim`` features. ``projection``: the network ends in a ``dense`` layer of one
    unit; its input ``h`` (``dim`` features) also gives ``<embed(y), h>``, added to the output.
    """

    mode: str
    classes: int
    dim: int

    @property
    def parameters(self) -> int:
        return self.classes * self.dim

    def tensor_shapes(self, prefix: str) -> dict[str, tuple[int, ...]]:
        return {f"{prefix}.embedding.weight": (self.classes, self.dim)}


@dataclass(frozen=True)
class NetSpec:
    """A sequential network: its input shape (without batch), its layers and, for a
    class-conditional network, how the label enters (``label``)."""

    input_shape: tuple[int, ...]
    layers: tuple[LayerSpec, ...]
    label: LabelInput | None = None

    @property
    def layers_input_shape(self) -> tuple[int, ...]:
        """What layer 0 sees: the input, widened by the label embedding for ``concat``."""
        shape = tuple(self.input_shape)
        if self.label is not None and self.label.mode == "concat":
            return (*shape[:-1], shape[-1] + self.label.dim)
        return shape

    def summary(self) -> list[LayerSummary]:
        """Output shape and parameter counts of every layer, computed without a framework
        (the label embedding, which is no layer, is counted by :meth:`parameter_counts`)."""
        rows = []
        shape = self.layers_input_shape
        for i, layer in enumerate(self.layers):
            shape, trainable, frozen = _propagate(layer, shape)
            rows.append(LayerSummary(i, layer.kind, shape, trainable, frozen))
        return rows

    @property
    def output_shape(self) -> tuple[int, ...]:
        rows = self.summary()
        return rows[-1].output_shape if rows else tuple(self.input_shape)

    def parameter_counts(self) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts, as Keras' summary reports them."""
        rows = self.summary()
        embedding = self.label.parameters if self.label is not None else 0
        return sum(r.trainable for r in rows) + embedding, sum(r.non_trainable for r in rows)

    def tensor_shapes(self, prefix: str) -> dict[str, tuple[int, ...]]:
        """Canonical tensor names and shapes (the layout in docs/weights.md)."""
        out: dict[str, tuple[int, ...]] = {}
        shape = self.layers_input_shape
        for i, layer in enumerate(self.layers):
            name = f"{prefix}.{i}"
            if layer.kind == "dense":
                out[f"{name}.weight"] = (layer["units"], shape[-1])
                if layer["bias"]:
                    out[f"{name}.bias"] = (layer["units"],)
            elif layer.kind == "conv":
                k = layer["kernel"]
                out[f"{name}.weight"] = (layer["filters"], shape[-1], k, k)
                if layer["bias"]:
                    out[f"{name}.bias"] = (layer["filters"],)
            elif layer.kind == "conv_transpose":
                k = layer["kernel"]
                out[f"{name}.weight"] = (shape[-1], layer["filters"], k, k)
                if layer["bias"]:
                    out[f"{name}.bias"] = (layer["filters"],)
            elif layer.kind == "batch_norm":
                for t in ("weight", "bias", "running_mean", "running_var"):
                    out[f"{name}.{t}"] = (shape[-1],)
            elif layer.kind == "layer_norm":
                for t in ("weight", "bias"):
                    out[f"{name}.{t}"] = (shape[-1],)
            if layer.kind in KERNEL_KINDS and layer["spectral_norm"]:
                units = layer["units"] if layer.kind == "dense" else layer["filters"]
                out[f"{name}.sn_u"] = (units,)
            shape, _, _ = _propagate(layer, shape)
        if self.label is not None:
            out.update(self.label.tensor_shapes(prefix))
        return out


def _conv_out(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


def _propagate(layer: LayerSpec, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, int]:
    kind = layer.kind
    if kind == "dense":
        units = layer["units"]
        frozen = units if layer["spectral_norm"] else 0  # the power iteration's u
        return (*shape[:-1], units), shape[-1] * units + (units if layer["bias"] else 0), frozen
    if kind in ("conv", "conv_transpose"):
        if len(shape) != 3:
            raise CardError(f"layer {kind} needs an (H, W, C) input, got {shape}")
        h, w, c = shape
        k, s, f = layer["kernel"], layer["stride"], layer["filters"]
        if kind == "conv":
            oh, ow = _conv_out(h, k, s, layer["padding"]), _conv_out(w, k, s, layer["padding"])
        elif layer["padding"] == "same":
            oh, ow = h * s, w * s
        else:
            oh, ow = (h - 1) * s + k, (w - 1) * s + k
        frozen = f if layer["spectral_norm"] else 0
        return (oh, ow, f), k * k * c * f + (f if layer["bias"] else 0), frozen
    if kind == "batch_norm":
        return shape, 2 * shape[-1], 2 * shape[-1]
    if kind == "layer_norm":
        return shape, 2 * shape[-1], 0
    if kind == "reshape":
        target = tuple(layer["shape"])
        if _prod(target) != _prod(shape):
            raise CardError(f"reshape {shape} -> {target} changes the number of elements")
        return target, 0, 0
    if kind == "flatten":
        return (_prod(shape),), 0, 0
    return shape, 0, 0


def _prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def parse_net(raw: Any, input_shape: Sequence[int], where: str,
              label: LabelInput | None = None) -> NetSpec:
    """Parse a card's ``layers = [...]`` array into a NetSpec and check that shapes chain."""
    if not isinstance(raw, list) or not raw:
        raise CardError(f"{where}: 'layers' must be a non-empty array of tables")
    layers = tuple(LayerSpec.parse(item, f"{where}.layers[{i}]") for i, item in enumerate(raw))
    net = NetSpec(tuple(int(x) for x in input_shape), layers, label)
    try:
        net.summary()
    except CardError as exc:
        raise CardError(f"{where}: {exc}") from None
    return net


def projection_width(net: NetSpec, where: str) -> int:
    """The width of ``h`` for a projection head: ``net`` must end in ``dense`` of one unit
    on a flat input; the error names what to change."""
    last = net.layers[-1]
    rows = net.summary()
    width_shape = rows[-2].output_shape if len(rows) > 1 else net.layers_input_shape
    if last.kind != "dense" or last["units"] != 1 or len(width_shape) != 1:
        raise CardError(f"{where}: a projection discriminator must end in a dense layer of one "
                        f"unit on a flat input (flatten first); got {last.kind} on "
                        f"{width_shape}")
    return int(width_shape[0])
