"""One device vocabulary (ganzoo.devices) and one batch-size check (training.config.epoch_steps),
used by the core and both built-in backends."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch  # first: TensorFlow before torch segfaults

from ganzoo.cards import builtin_cards
from ganzoo.devices import Device, parse_device
from ganzoo.errors import UsageError
from ganzoo.launching import check_supported
from ganzoo.protocols import Capabilities, TrainConfig
from ganzoo.training.config import build_config, check_batch_size, epoch_steps
from ganzoo_torch.runtime import resolve_device

MLP = {c.family: c for c in builtin_cards()}["mlp"]


@pytest.mark.parametrize(("text", "parsed"), [
    ("auto", Device("auto")), ("cpu", Device("cpu")), ("cuda", Device("cuda")),
    ("cuda:0", Device("cuda", 0)), ("cuda:3", Device("cuda", 3)), (" cpu ", Device("cpu")),
])
def test_the_vocabulary(text: str, parsed: Device) -> None:
    assert parse_device(text) == parsed
    assert str(parse_device(str(parsed))) == str(parsed)


@pytest.mark.parametrize("text", ["gpu", "cuda:", "cuda:x", "cuda:-1", "cpu:0", "tpu", "",
                                  "CUDA", "auto:1"])
def test_anything_else_is_a_usage_error_naming_the_choices(text: str) -> None:
    with pytest.raises(UsageError, match=r"auto, cpu, cuda or cuda:N"):
        parse_device(text)


def test_the_config_takes_cuda_n(tmp_path) -> None:
    from export_support import numpy_catalog

    spec = numpy_catalog().model("mlp-numpy")
    assert build_config(spec, device="cuda:1").device == "cuda:1"
    with pytest.raises(UsageError):
        build_config(spec, device="gpu")
    with pytest.raises(UsageError, match="at least 1"):
        build_config(spec, batch_size=-2)


class _CpuOnly:
    capabilities = Capabilities()


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_a_backend_without_cuda_refuses_every_cuda_device(device: str) -> None:
    config = TrainConfig(model_id="m", recipe="r", dataset="d", device=device)
    with pytest.raises(UsageError, match="cannot run on CUDA"):
        check_supported(_CpuOnly(), config)
    check_supported(_CpuOnly(), TrainConfig(model_id="m", recipe="r", dataset="d",
                                            device="cpu"))


def test_epoch_steps_counts_full_steps_and_caps() -> None:
    assert epoch_steps(100, 10) == 10
    assert epoch_steps(109, 10) == 10  # the last partial batch is dropped
    assert epoch_steps(100, 10, 2) == 5  # two discriminator batches per step
    assert epoch_steps(100, 10, max_steps=3) == 3
    assert epoch_steps(100, 10, replicas=2) == 10
    assert epoch_steps(10, 10) == 1


@pytest.mark.parametrize(("args", "kw", "words"), [
    ((100, 0), {}, "--batch-size must be at least 1, not 0"),
    ((100, 10), {"replicas": 3}, "--batch-size 10 does not divide evenly over 3 devices"),
    ((9, 10), {}, "9 images, which make no full training step of 1 batch(es) of 10; lower "
                  "--batch-size (at most 9)"),
    ((15, 10, 2), {"source": "fashion/train"}, "fashion/train has 15 images, which make no "
                                               "full training step of 2 batch(es) of 10"),
])
def test_refusals_are_usage_errors_with_one_message(args, kw, words) -> None:
    with pytest.raises(UsageError) as caught:
        epoch_steps(*args, **kw)
    assert words in str(caught.value)


def test_check_batch_size_alone() -> None:
    check_batch_size(1)
    check_batch_size(8, 4)
    with pytest.raises(UsageError):
        check_batch_size(6, 4)


TORCH_REFUSAL = """
import torch
import numpy as np
from ganzoo.cards import builtin_cards
from ganzoo.errors import UsageError
from ganzoo.protocols import TrainConfig
from ganzoo_torch.trainer import TorchTrainer
recipe = {c.family: c for c in builtin_cards()}["mlp"].recipe("seed004")
config = TrainConfig(model_id="mlp-torch", recipe=recipe.name, dataset="x", batch_size=32,
                     device="cpu")
try:
    TorchTrainer(recipe, config, np.zeros((20, *recipe.image_shape), np.uint8))
except UsageError as exc:
    print(exc)
"""


def test_the_torch_trainer_refuses_with_the_core_message() -> None:
    # Its own process: the trainer may load triton, which crashes after TensorFlow loaded.
    out = subprocess.run([sys.executable, "-c", TORCH_REFUSAL], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    with pytest.raises(UsageError) as core:
        epoch_steps(20, 32, MLP.recipe("seed004").d_steps_per_g)
    assert out.stdout.strip() == str(core.value)


def test_the_torch_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="sees 0 CUDA device"):
            resolve_device("cuda:0")
    with pytest.raises(UsageError, match="cuda:N"):
        resolve_device("gpu")
