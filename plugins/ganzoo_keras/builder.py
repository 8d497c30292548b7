"""The one builder from a card's backend-neutral :class:`~ganzoo.architecture.NetSpec` to Keras.

Layer ``i`` of the spec becomes exactly one Keras layer, named ``<network>.<i>``, so the
canonical tensor names ``<network>.<i>.weight`` point at it (see :mod:`ganzoo_keras.canonical`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganzoo.architecture import LayerSpec, NetSpec
from ganzoo.protocols import LayerRow
from ganzoo_keras.layers import (
    LabelConcat,
    LabelProjection,
    SpectralConv2D,
    SpectralConv2DTranspose,
    SpectralDense,
)
from ganzoo_keras.runtime import keras

if TYPE_CHECKING:
    from ganzoo.cards import Recipe

_ACTIVATIONS = ("relu", "tanh", "sigmoid")


def _layer(spec: LayerSpec, name: str, dtype: Any, synchronized: bool = False
           ) -> keras.layers.Layer:
    kind, o = spec.kind, spec.options
    common = {"name": name, "dtype": dtype}
    if kind == "dense":
        cls = SpectralDense if o["spectral_norm"] else keras.layers.Dense
        return cls(o["units"], use_bias=o["bias"], **common)
    if kind in ("conv", "conv_transpose"):
        if o["spectral_norm"]:
            cls = SpectralConv2D if kind == "conv" else SpectralConv2DTranspose
        else:
            cls = keras.layers.Conv2D if kind == "conv" else keras.layers.Conv2DTranspose
        return cls(o["filters"], o["kernel"], strides=o["stride"], padding=o["padding"],
                   use_bias=o["bias"], **common)
    if kind == "layer_norm":
        return keras.layers.LayerNormalization(axis=-1, epsilon=o["epsilon"], **common)
    if kind == "batch_norm":
        # The card's momentum and epsilon already have the Keras meaning.
        if synchronized:
            common["synchronized"] = True
        return keras.layers.BatchNormalization(momentum=o["momentum"], epsilon=o["epsilon"],
                                               **common)
    if kind == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=o["slope"], **common)
    if kind in _ACTIVATIONS:
        return keras.layers.Activation(kind, **common)
    if kind == "dropout":
        return keras.layers.Dropout(o["rate"], **common)
    if kind == "reshape":
        return keras.layers.Reshape(tuple(o["shape"]), **common)
    if kind == "flatten":
        return keras.layers.Flatten(**common)
    raise ValueError(f"layer kind '{kind}' has no Keras builder")  # cards are validated first


def build_network(net: NetSpec, name: str, dtype: str = "float32",
                  synchronized: bool = False) -> keras.Model:
    """A built ``keras.Sequential`` for ``net``; ``dtype`` is a Keras dtype policy name
    (``mixed_bfloat16`` for mixed precision: float32 variables, bfloat16 compute).

    ``synchronized``: batch norm over the global batch of a ``tf.distribute`` strategy (its
    statistics all-reduced), so the replicas' moving statistics stay identical and equal to a
    single device's; without it each replica would normalise and track only its own shard.
    """
    layers = [_layer(spec, f"{name}.{i}", dtype, synchronized)
              for i, spec in enumerate(net.layers)]
    if net.label is not None:
        return _labelled(net, name, dtype, layers)
    return keras.Sequential([keras.Input(shape=tuple(net.input_shape)), *layers], name=name)


def _labelled(net: NetSpec, name: str, dtype: Any, layers: list[keras.layers.Layer]
              ) -> keras.Model:
    """A conditional network: a functional model of ``[x, labels]`` (labels int32, (N,)),
    its label table the layer ``<name>.embedding``."""
    x_in = keras.Input(shape=tuple(net.input_shape), name=f"{name}_input")
    y_in = keras.Input(shape=(), dtype="int32", name=f"{name}_labels")
    label = net.label
    if label.mode == "concat":
        x = LabelConcat(label.classes, label.dim, name=f"{name}.embedding", dtype=dtype)(
            [x_in, y_in])
        for layer in layers:
            x = layer(x)
        return keras.Model([x_in, y_in], x, name=name)
    h = x_in
    for layer in layers[:-1]:
        h = layer(h)
    projection = LabelProjection(label.classes, label.dim, name=f"{name}.embedding",
                                 dtype=dtype)([h, y_in])
    out = keras.layers.Add(name=f"{name}.projection", dtype=dtype)([layers[-1](h), projection])
    return keras.Model([x_in, y_in], out, name=name)


def build_networks(recipe: Recipe, dtype: str = "float32", synchronized: bool = False
                   ) -> tuple[keras.Sequential, keras.Sequential]:
    """The recipe's (generator, discriminator), built as ganzoo's own Keras trainer builds them.

    Public (``ganzoo_keras.build_networks``): models named ``generator`` and
    ``discriminator``, layer ``i`` named ``<network>.<i>``, so
    :func:`ganzoo_keras.canonical_weights` gives the canonical names and layouts that the
    torch backend reads. ``dtype`` and ``synchronized`` as in :func:`build_network`.
    """
    return (build_network(recipe.generator, "generator", dtype, synchronized),
            build_network(recipe.discriminator, "discriminator", dtype, synchronized))


def _count(variables: list[Any]) -> int:
    return int(sum(int(v.numpy().size) for v in variables))


def layer_rows(model: keras.Model, network: str) -> list[LayerRow]:
    """One :class:`LayerRow` per layer, read from the built Keras model itself."""
    return [
        LayerRow(
            network=network,
            name=layer.name,
            kind=type(layer).__name__,
            output_shape=tuple(layer.output.shape),
            trainable=_count(layer.trainable_weights),
            non_trainable=_count(layer.non_trainable_weights),
        )
        for layer in model.layers
        # A conditional model's inputs and the projection's sum hold no weights of the card's.
        if not isinstance(layer, keras.layers.InputLayer)
        and layer.name != f"{network}.projection"
    ]


def random_states(layer: keras.layers.Layer) -> list[Any]:
    """A layer's random-seed variables (Keras 3 ``SeedGenerator`` states, e.g. of Dropout).

    Keras counts them among a layer's variables but not its weights, which is how they are
    told apart from batch-norm statistics.
    """
    weights = {id(w) for w in layer.weights}
    return [v for v in layer.non_trainable_variables if id(v) not in weights]
