"""The CPU fast path of ganzoo_torch.builder computes the same networks: same outputs, gradients
and resumable state."""

from __future__ import annotations

import numpy as np
import pytest

from ganzoo.cards import builtin_cards
from ganzoo.protocols import TrainConfig

torch = pytest.importorskip("torch")

from ganzoo_torch.backend import create_backend  # noqa: E402
from ganzoo_torch.builder import build_network, image_layout, speed_up_for  # noqa: E402
from ganzoo_torch.layers import SameConvTranspose2d  # noqa: E402

pytestmark = pytest.mark.torch

CARDS = {card.family: card for card in builtin_cards()}
CPU = torch.device("cpu")


@pytest.mark.parametrize(("size", "kernel"), [(7, 5), (6, 4), (5, 3), (4, 1)])
def test_stride_one_transpose_as_convolution_matches_the_transpose(size, kernel):
    torch.manual_seed(0)
    plain = SameConvTranspose2d(6, 4, kernel, 1, True, (size, size))
    fast = SameConvTranspose2d(6, 4, kernel, 1, True, (size, size))
    fast.load_state_dict(plain.state_dict())
    assert fast.can_compute_as_conv()
    fast.compute_as_conv = True
    x = torch.randn(3, 6, size, size, requires_grad=True)
    x_fast = x.detach().clone().requires_grad_()
    y, y_fast = plain(x), fast(x_fast)
    assert y.shape == y_fast.shape == (3, 4, size, size)
    torch.testing.assert_close(y_fast, y, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(y)
    y.backward(grad)
    y_fast.backward(grad)
    torch.testing.assert_close(x_fast.grad, x.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast.bias.grad, plain.bias.grad)


def test_strided_transposes_keep_the_transpose():
    assert not SameConvTranspose2d(8, 4, 5, 2, False, (7, 7)).can_compute_as_conv()


@pytest.mark.parametrize(("family", "recipe"), [("dcgan", "seed000"), ("combined", "seed001")])
def test_sped_up_networks_compute_what_the_plain_build_does(family, recipe):
    spec = CARDS[family].recipe(recipe)
    torch.manual_seed(1)
    plain = build_network(spec.generator).eval()
    fast = build_network(spec.generator).eval()
    fast.load_state_dict(plain.state_dict())
    speed_up_for(fast, CPU)
    z = torch.randn(4, spec.latent_dim)
    torch.testing.assert_close(fast(z), plain(z), rtol=1e-4, atol=1e-5)

    d_plain = build_network(spec.discriminator).eval()
    d_fast = speed_up_for(build_network(spec.discriminator).eval(), CPU)
    d_fast.load_state_dict(d_plain.state_dict())
    images = image_layout(torch.rand(4, 1, 28, 28) * 2 - 1, CPU)
    assert images.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(d_fast(images), d_plain(images.contiguous()), rtol=1e-4,
                               atol=1e-5)


def test_cpu_layout_choices_and_untouched_cuda_networks():
    spec = CARDS["dcgan"].recipe("seed000")
    g = speed_up_for(build_network(spec.generator), CPU)
    transposes = [m for m in g.modules() if isinstance(m, SameConvTranspose2d)]
    as_conv = [m for m in transposes if m.compute_as_conv]
    assert len(as_conv) == 1 and as_conv[0].weight.shape[:2] == (512, 128)
    assert as_conv[0].weight.is_contiguous()  # computed in NCHW
    for m in transposes:
        if not m.compute_as_conv:
            assert m.weight.is_contiguous(memory_format=torch.channels_last)
    # On any other device the networks are left as built (the GPU choices are unmeasured).
    other = build_network(spec.generator)
    assert speed_up_for(other, torch.device("meta")) is other
    assert not any(getattr(m, "compute_as_conv", False) for m in other.modules())


def test_resumed_optimiser_slots_follow_their_parameters_layout():
    """Fused Adam walks a parameter and its slots in memory order: layouts must agree."""
    recipe = CARDS["dcgan"].recipe("seed000")
    images = np.random.default_rng(0).integers(0, 256, (32, 28, 28, 1), dtype=np.uint8)
    cfg = TrainConfig(model_id="dcgan-torch", recipe="seed000", dataset="random",
                      batch_size=8, seed=0, device="cpu", max_steps=2,
                      extra={"torch_threads": 1})
    first = create_backend(None).create_trainer(recipe, cfg, images)
    first.run_steps(0, 0, 1)
    second = create_backend(None).create_trainer(recipe, cfg, images)
    second.load_state(first.state())
    checked = 0
    for optimizer in second.optimizers.values():
        for param, slots in optimizer.state.items():
            for value in slots.values():
                if value.shape == param.shape and param.dim() == 4:
                    assert value.stride() == param.stride()
                    checked += 1
    assert checked > 0


def test_fast_dropout_mask_keeps_the_rate_and_scales_like_torch():
    from ganzoo_torch.layers import Dropout

    layer = Dropout(0.3)
    layer.fast_mask = True
    torch.manual_seed(0)
    x = torch.ones(200, 50, 10, requires_grad=True)
    y = layer(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.01
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.7))
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.7)  # gradient through the same mask
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    layer.p = 0.0
    assert torch.equal(layer(x), x)


def test_speed_up_switches_every_dropout_on_cpu():
    from ganzoo_torch.layers import Dropout

    spec = CARDS["dcgan"].recipe("seed000")
    d = speed_up_for(build_network(spec.discriminator), CPU)
    drops = [m for m in d.modules() if isinstance(m, Dropout)]
    assert len(drops) == 2 and all(m.fast_mask for m in drops)
    assert not any(m.fast_mask for m in build_network(spec.discriminator).modules()
                   if isinstance(m, Dropout))


def test_threads_follow_omp_num_threads_where_the_user_set_it(monkeypatch):
    import os

    from ganzoo_torch.runtime import use_cores

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        use_cores()
        assert torch.get_num_threads() == 1
        use_cores(2)  # an explicit count wins
        assert torch.get_num_threads() == 2
        monkeypatch.delenv("OMP_NUM_THREADS")
        use_cores()
        assert torch.get_num_threads() == len(os.sched_getaffinity(0))
    finally:
        torch.set_num_threads(before)
