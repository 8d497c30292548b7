"""The class-label layers of a conditional network (ganzoo.architecture.LabelInput), in Keras.

Each holds one (classes, dim) table named ``embeddings``, canonically
``<network>.embedding.weight`` (the same layout as torch's ``nn.Embedding``):

- :class:`LabelConcat` joins ``embed(y)`` to the latent vector (a conditional generator's input);
- :class:`LabelProjection` gives ``<embed(y), h>`` for a projection discriminator
  (Miyato & Koyama 2018), added to the final dense layer's output.
"""

from __future__ import annotations

from typing import Any

from ganzoo_keras.runtime import keras

ops = keras.ops


class _LabelTable(keras.layers.Layer):
    """A (classes, dim) table looked up by integer labels."""

    initializer: Any = "glorot_uniform"

    def __init__(self, classes: int, dim: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.classes = int(classes)
        self.dim = int(dim)

    def build(self, input_shape: Any) -> None:
        self.embeddings = self.add_weight(shape=(self.classes, self.dim), name="embeddings",
                                          initializer=self.initializer, trainable=True)

    def lookup(self, labels: Any) -> Any:
        return ops.take(self.embeddings, ops.cast(ops.reshape(labels, (-1,)), "int32"), axis=0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "classes": self.classes, "dim": self.dim}


class LabelConcat(_LabelTable):
    """``[z, embed(y)]``: the embedding drawn N(0, 1), the latent vector's scale."""

    initializer = keras.initializers.RandomNormal(stddev=1.0)

    def call(self, inputs: Any) -> Any:
        z, labels = inputs
        return ops.concatenate([z, ops.cast(self.lookup(labels), z.dtype)], axis=-1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        z_shape = input_shape[0]
        return (*z_shape[:-1], z_shape[-1] + self.dim)


class LabelProjection(_LabelTable):
    """``<embed(y), h>`` as (N, 1); the table Glorot-uniform, as the dense layer beside it."""

    def call(self, inputs: Any) -> Any:
        h, labels = inputs
        return ops.sum(ops.cast(self.lookup(labels), h.dtype) * h, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0][0], 1)
