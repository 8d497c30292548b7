"""ganzoo's own Keras layers: spectrally normalised kernels and class-label tables.

**Spectral normalisation** (Miyato et al. 2018), as ganzoo's torch does. Not
``keras.layers.SpectralNormalization``: that wrapper writes the normalised kernel back into
the kernel variable on every training call, so gradients skip ``sigma`` and the stored weight
changes meaning. Here, as in torch, the stored kernel stays the raw ``W``; each call computes
``W / sigma`` with ``sigma`` from one power iteration started at the stored vector ``sn_u``
(one entry per output unit), and only a training call stores the new ``u``. ``u`` and ``v``
carry no gradient, ``sigma`` does. The arithmetic mirrors
:func:`ganzoo_torch.layers.spectral_normalised`.

**Class labels** of a conditional network (ganzoo.architecture.LabelInput). Each holds one
(classes, dim) table named ``embeddings``, canonically ``<network>.embedding.weight`` (the same
layout as torch's ``nn.Embedding``):

- :class:`LabelConcat` joins ``embed(y)`` to the latent vector (a conditional generator's input);
- :class:`LabelProjection` gives ``<embed(y), h>`` for a projection discriminator
  (Miyato & Koyama 2018), added to the final dense layer's output.
"""

from __future__ import annotations

from typing import Any

from ganzoo_keras.runtime import keras

ops = keras.ops
SN_EPSILON = 1e-12  # floor of a norm in the power iteration (as torch's F.normalize)


def _unit_vector(x: Any) -> Any:
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x))), SN_EPSILON)


def spectral_normalised(kernel: Any, u: Any, out_axis: int) -> tuple[Any, Any]:
    """(``kernel / sigma``, the new ``u``) for a Keras kernel whose units lie on ``out_axis``.

    The kernel is viewed as a matrix ``K`` (everything else, units); the canonical matrix is
    its transpose up to a permutation of rows, which changes neither norm below.
    """
    rank = len(kernel.shape)
    order = [a for a in range(rank) if a != out_axis % rank] + [out_axis % rank]
    dtype = kernel.dtype
    kernel32 = ops.cast(kernel, "float32")
    matrix = ops.reshape(ops.transpose(kernel32, order), (-1, kernel.shape[out_axis]))
    fixed = ops.stop_gradient(matrix)
    u = ops.cast(u, "float32")
    v = _unit_vector(ops.matmul(fixed, u))  # W^T u
    new_u = ops.stop_gradient(_unit_vector(ops.matmul(v, fixed)))  # W v
    v = ops.stop_gradient(v)
    sigma = ops.sum(new_u * ops.matmul(v, matrix))
    return ops.cast(kernel32 / sigma, dtype), new_u


class _SpectralKernel:
    """Adds ``sn_u`` after the layer's own build; calls use :meth:`_normalised_kernel`."""

    OUT_AXIS = -1
    units_attr = "filters"

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)  # type: ignore[misc]
        units = getattr(self, self.units_attr)
        # Every replica computes the same u from the same kernel: keep the first one's.
        self.sn_u = self.add_weight(  # type: ignore[attr-defined]
            name="sn_u", shape=(units,), initializer=keras.initializers.RandomNormal(),
            trainable=False, autocast=False, aggregation="only_first_replica")

    def _normalised_kernel(self, training: Any) -> Any:
        kernel, new_u = spectral_normalised(self.kernel, self.sn_u, self.OUT_AXIS)  # type: ignore[attr-defined]
        if training:
            self.sn_u.assign(new_u)
        return kernel

    def _add_bias(self, outputs: Any) -> Any:
        if self.bias is None:  # type: ignore[attr-defined]
            return outputs
        return ops.add(outputs, self.bias)  # type: ignore[attr-defined]


class SpectralDense(_SpectralKernel, keras.layers.Dense):
    """``Dense`` with a spectrally normalised kernel (kernel (in, units): units on axis 1)."""

    units_attr = "units"

    def call(self, inputs: Any, training: Any = None) -> Any:
        return self._add_bias(ops.matmul(inputs, self._normalised_kernel(training)))


class SpectralConv2D(_SpectralKernel, keras.layers.Conv2D):
    """``Conv2D`` with a spectrally normalised kernel (kernel (kh, kw, in, filters))."""

    def call(self, inputs: Any, training: Any = None) -> Any:
        return self._add_bias(self.convolution_op(inputs, self._normalised_kernel(training)))


class SpectralConv2DTranspose(_SpectralKernel, keras.layers.Conv2DTranspose):
    """``Conv2DTranspose``, spectrally normalised (kernel (kh, kw, filters, in): axis 2)."""

    OUT_AXIS = 2

    def call(self, inputs: Any, training: Any = None) -> Any:
        outputs = ops.conv_transpose(
            inputs, self._normalised_kernel(training), strides=list(self.strides),
            padding=self.padding, output_padding=self.output_padding,
            dilation_rate=self.dilation_rate, data_format=self.data_format)
        return self._add_bias(outputs)


# -- class labels -------------------------------------------------------------------------


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
