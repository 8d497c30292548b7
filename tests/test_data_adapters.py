"""Backend adapters: uint8 NHWC in, float32 in [-1, 1] out, in each backend's layout.

The shared layout check is the core's (numpy only); the conversions live in the plugins."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ganzoo.data.adapters import as_nhwc_uint8

IMAGES = np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
IMAGES[0, 0, 0, 0], IMAGES[0, 0, 1, 0] = 0, 255
EXPECTED = (IMAGES.astype(np.float32) - 127.5) / 127.5


def test_layout_checks():
    assert as_nhwc_uint8(IMAGES[..., 0]).shape == (5, 28, 28, 1)
    frozen = IMAGES.copy()
    frozen.flags.writeable = False
    assert as_nhwc_uint8(frozen).flags.writeable
    assert as_nhwc_uint8(IMAGES) is IMAGES  # no copy when none is needed
    with pytest.raises(ValueError, match="uint8"):
        as_nhwc_uint8(IMAGES.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        as_nhwc_uint8(IMAGES[0, 0])


@pytest.mark.torch
def test_to_torch_is_nchw_float_in_range():
    torch = pytest.importorskip("torch")
    from ganzoo_torch.data import to_torch
    tensor = to_torch(IMAGES, "cpu")
    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (5, 1, 28, 28)
    assert tensor.is_contiguous()
    assert tensor[0, 0, 0, 0].item() == -1.0 and tensor[0, 0, 0, 1].item() == 1.0
    np.testing.assert_array_equal(tensor.numpy(), EXPECTED.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(to_torch(IMAGES[..., 0]).numpy(), tensor.numpy())


@pytest.mark.torch
@pytest.mark.gpu
def test_to_torch_places_on_the_device_from_uint8():
    torch = pytest.importorskip("torch")
    from ganzoo_torch.data import to_torch
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    tensor = to_torch(IMAGES, "cuda")
    assert tensor.device.type == "cuda" and tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.cpu().numpy(), EXPECTED.transpose(0, 3, 1, 2), atol=1e-6)


@pytest.mark.keras
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs tensorflow")
def test_to_tensorflow_is_nhwc_float_in_range():
    from ganzoo_keras.data import to_tensorflow  # imports torch first (the safe order)

    tensor = to_tensorflow(IMAGES)
    assert tensor.dtype.name == "float32" and tuple(tensor.shape) == (5, 28, 28, 1)
    np.testing.assert_array_equal(tensor.numpy(), EXPECTED)
    assert float(tensor.numpy().min()) == -1.0 and float(tensor.numpy().max()) == 1.0

