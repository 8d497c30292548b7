"""The accelerator paths of the torch trainer that run on a CPU: bf16 autocast and
torch.compile really take effect (not only "the step finishes"), as docs/gpu.md says."""

from __future__ import annotations

import numpy as np
import pytest

from ganzoo.cards import builtin_cards
from ganzoo.protocols import TrainConfig

torch = pytest.importorskip("torch")

from ganzoo_torch.backend import create_backend  # noqa: E402

pytestmark = pytest.mark.torch

CARDS = {card.family: card for card in builtin_cards()}


def make(family: str, recipe_name: str, batch: int, **config):
    recipe = CARDS[family].recipe(recipe_name)
    images = np.random.default_rng(0).integers(0, 256, (4 * batch, 28, 28, 1), dtype=np.uint8)
    cfg = TrainConfig(model_id=f"{family}-torch", recipe=recipe_name, dataset="random",
                      batch_size=batch, device="cpu", max_steps=2,
                      extra={"torch_threads": 1}, **config)
    return create_backend(None).create_trainer(recipe, cfg, images)


def output_dtypes(trainer, steps: int = 1) -> set:
    """dtypes of every Linear/Conv output in the generator during ``steps`` training steps."""
    seen: set = set()
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
             for m in trainer.generator.modules()
             if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    try:
        trainer.run_steps(0, 0, steps)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def test_amp_runs_matmuls_in_bfloat16_and_keeps_float32_weights():
    plain, amp = make("mlp", "seed004", 16), make("mlp", "seed004", 16, amp=True)
    assert output_dtypes(plain) == {torch.float32}
    assert output_dtypes(amp) == {torch.bfloat16}
    # The parameters and optimiser state stay float32 (autocast casts per op).
    assert all(p.dtype == torch.float32 for p in amp.generator.parameters())
    assert all(v.dtype == np.float32 for v in amp.weights().values())


def test_amp_changes_the_arithmetic_only_by_rounding():
    plain = make("mlp", "seed004", 16).run_steps(0, 0, 1)
    amp = make("mlp", "seed004", 16, amp=True).run_steps(0, 0, 1)
    assert plain != amp  # bf16 rounding shows in the losses ...
    for key in plain:  # ... and nothing more
        assert amp[key] == pytest.approx(plain[key], rel=0.1, abs=0.02)  # 6.5% measured


@pytest.mark.slow
def test_compile_runs_the_networks_through_dynamo():
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    trainer = make("mlp", "seed004", 16, compile=True)
    assert trainer.steps.g_forward is not trainer.generator  # the compiled callable is used
    trainer.run_steps(0, 0, 2)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 2  # G and D compiled
