"""benchmarks/run.py end to end: one tiny model run writes a complete JSON (never timings)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.torch,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch"),
]


def test_quick_mlp_torch_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "GANZOO_PLUGINS": "torch,keras"}
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--models", "mlp-torch", "--steps", "2",
         "--repeats", "1", "--images", "4096", "--threads", "1", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mlp-torch" in done.stdout  # the table

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["targets"] == {"torch": 1.5, "keras": 5.0}
    assert report["machine"]["cpu_count"] >= 1
    assert "torch" in report["machine"]["versions"]
    [result] = report["results"]
    assert (result["model"], result["recipe"], result["batch"]) == ("mlp-torch", "seed002", 32)
    assert result["threads"]["torch_threads"] == 1
    ours = result["ours"]
    assert ours["steps"] == 2 and len(ours["wall_s"]) == 1
    assert ours["images_per_s"] > 0 and ours["images_per_cpu_s"] > 0
    # The code clamps at 0, so ">= 0" could not fail: building seed002's networks and their
    # Adam slots (2.0M parameters: 8 MB each for weights, gradients and two moments) and the
    # 4096 images on the device must show. Measured: 62 MB.
    assert ours["peak_rss_delta_mb"] > 8
    careful, base = result["baselines"]
    assert careful["name"] == "careful loop" and careful["target"] == 1.5  # mlp: overhead-bound
    assert "careful_torch_loop" in careful["description"] and careful["images_per_s"] > 0
    assert careful["met"] == (careful["ratio"] >= 1.5)
    assert base["target"] == 1.5 and "PlainLoop" in base["description"]
    assert base["images_per_s"] > 0
    assert base["ratio"] > 0 and base["ratio_cpu"] > 0
    assert base["met"] == (base["ratio"] >= 1.5)
    # seed002's step: D on 32 real and 32 fake images, G through D, forward + backward of
    # dense layers (counted by torch's flop counter; 0.5996 GFLOP measured).
    compute = result["compute"]
    assert 0.55e9 < compute["flops_per_step"] < 0.65e9
    # before, after each repeat (1 here) and after the timings; the peak is the best of
    # both kernels (the sgemm and the oneDNN convolution)
    assert len(compute["sgemm_gflops"]) == len(compute["conv_gemm_gflops"]) == 3
    rates = compute["sgemm_gflops"] + compute["conv_gemm_gflops"]
    assert min(rates) > 0 and compute["peak_gflops"] == max(rates)
    best = "conv_gemm" if max(compute["conv_gemm_gflops"]) >= max(compute["sgemm_gflops"]) \
        else "sgemm"
    assert compute["peak_from"] == best
    rate = compute["flops_per_step"] * ours["images_per_s"] / 32 / 1e9
    assert compute["gflops_per_s"] == pytest.approx(rate)
    assert compute["fraction_of_peak"] == pytest.approx(rate / compute["peak_gflops"])


def test_recipe_without_seed_style_loop_is_skipped_with_a_note(tmp_path: Path) -> None:
    """wgangp (wasserstein, 5 critic steps, gradient penalty): the careful loop writes it, the
    seed-style loop cannot and says so; the FLOP count includes the penalty's double backward."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--models", "wgangp-torch", "--steps", "1",
         "--repeats", "1", "--images", "1000", "--threads", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "skipped" in done.stdout and "no penalty" in done.stdout
    [result] = json.loads(out.read_text(encoding="utf-8"))["results"]
    careful, seed = result["baselines"]
    assert careful["name"] == "careful loop" and careful["images_per_s"] > 0
    assert careful["target"] == 1.0
    assert seed["name"] == "seed-style torch loop" and "bce_logits" in seed["skipped"]
    # 5 critic updates with the penalty's extra forward and double backward, then G: 40.69
    # GFLOP measured; without the penalty it would be about 17.
    assert 38e9 < result["compute"]["flops_per_step"] < 43e9


def test_careful_torch_flops_match_torch_flop_counter() -> None:
    """The counting dispatch mode gives FlopCounterMode's total where that one works."""
    sys.path.insert(0, str(RUN.parent))
    import numpy as np
    from careful_loops import careful_torch_loop, torch_flops_per_step
    from torch.utils.flop_counter import FlopCounterMode

    from ganzoo.catalog import Catalog

    recipe = Catalog.load().model("combined-torch").card.recipe(None)
    run = careful_torch_loop(recipe, np.zeros((8, 28, 28, 1), np.uint8), 8)
    batches = list(run.data.split(8))
    run.step(batches)
    counter = FlopCounterMode(display=False)
    with counter:
        run.step(batches)
    assert torch_flops_per_step(recipe, 8) == counter.get_total_flops() > 0


def test_conv_layer_timings_cover_every_convolution_and_formulation() -> None:
    script = RUN.parent / "torch_conv_layers.py"
    done = subprocess.run(
        [sys.executable, str(script), "--cards", "combined:seed001", "--repeats", "1",
         "--threads", "1"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("combined")]
    # Two convolutions in each network, each as NCHW and channels-last (no stride-1 transpose).
    assert len(rows) == 8
    assert {row[-3] for row in rows} == {"nchw", "channels_last"}
    assert all(float(row[-2]) > 0 and float(row[-1]) > 0 for row in rows)



def test_careful_torch_loop_writes_the_conditional_step() -> None:
    """cgan's careful loop judges real images with their own labels, fakes with drawn ones,
    trains both label tables, and refuses labels outside the recipe's classes."""
    sys.path.insert(0, str(RUN.parent))
    import numpy as np
    import torch
    from careful_loops import careful_torch_loop, torch_flops_per_step

    from ganzoo.catalog import Catalog

    recipe = Catalog.load().model("cgan-torch").card.recipe(None)
    labels = np.full(32, 3)  # every real image is class 3; fakes are uniform over 10
    run = careful_torch_loop(recipe, np.zeros((32, 28, 28, 1), np.uint8), 8, labels=labels)
    G, D = run.networks
    before = {(i, n): p.detach().clone() for i, net in enumerate((G, D))
              for n, p in net.named_parameters() if "embedding" in n}
    judged: list[list[int]] = []
    hook = D.register_forward_pre_hook(lambda _m, args: judged.append(args[1].tolist()))
    run(1)
    hook.remove()
    assert [3] * 8 in judged, "no real batch was judged with its own labels"
    assert any(set(y) != {3} for y in judged), "fakes were not judged with drawn labels"
    after = {(i, n): p for i, net in enumerate((G, D)) for n, p in net.named_parameters()
             if "embedding" in n}
    assert len(before) == 2 and all(not torch.equal(before[n], after[n]) for n in before)
    with pytest.raises(ValueError, match="labels in"):
        careful_torch_loop(recipe, np.zeros((4, 28, 28, 1), np.uint8), 4,
                           labels=np.array([0, 1, 2, 10]))
    # cgan's step: 2 convs + dense + projection in D, dense + 2 transposed convs in G
    assert 1e9 < torch_flops_per_step(recipe, 8) < 2e9


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs tensorflow")
def test_careful_keras_loop_trains_both_label_tables() -> None:
    sys.path.insert(0, str(RUN.parent))
    import numpy as np
    from careful_loops import careful_keras_loop

    from ganzoo.catalog import Catalog

    recipe = Catalog.load().model("cgan-keras").card.recipe(None)
    run = careful_keras_loop(recipe, np.zeros((32, 28, 28, 1), np.uint8), 8,
                             labels=np.arange(32) % 10)
    tables = [v for net in run.networks for v in net.weights if "embedding" in v.path]
    before = [v.numpy().copy() for v in tables]
    run(2)
    assert len(tables) == 2
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before, tables, strict=True))
