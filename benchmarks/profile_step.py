"""Where a training step's time goes: ganzoo's torch trainer against the careful loop, op by op.

Both sides are warmed up, then ``torch.profiler`` records ``--steps`` steps of each (trainer
through ``run_steps``, as the training shell drives it); the table lists the ops with the most
self CPU time on either side, so overhead shows as ops one side runs and the other does not
(noise draws, metric reads, layout copies, optimiser kernels).

    python benchmarks/profile_step.py --model dcgan-torch --steps 3 --threads 1
    python benchmarks/profile_step.py --model mlp-torch --steps 40 --rows 25
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from careful_loops import careful_torch_loop
from run import trainer_runner

from ganzoo.catalog import Catalog
from ganzoo.protocols import TrainConfig


def self_times(run, steps: int) -> tuple[dict[str, float], float]:
    """Self CPU microseconds per op over ``steps`` steps, and the wall seconds they took."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        run(steps)
        wall = time.perf_counter() - t0
    out: dict[str, float] = {}
    for event in prof.key_averages():
        out[event.key] = out.get(event.key, 0.0) + event.self_cpu_time_total
    return out, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dcgan-torch")
    parser.add_argument("--recipe")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    spec = Catalog.load().model(args.model)
    recipe = spec.card.recipe(args.recipe)
    batch = recipe.batch_size
    images = np.random.default_rng(0).integers(0, 256, (8192, *recipe.image_shape), np.uint8)
    extra = {"torch_threads": args.threads} if args.threads else {}
    config = TrainConfig(model_id=spec.model_id, recipe=recipe.name, dataset="random",
                         batch_size=batch, device="cpu", extra=extra)
    trainer = spec.load_backend().create_trainer(recipe, config, images)
    ours = trainer_runner(trainer, config.log_every)
    careful = careful_torch_loop(recipe, images, batch)
    for run in (ours, careful):
        run(2)
    totals = {}
    for name, run in (("careful", careful), ("ours", ours)):
        totals[name] = self_times(run, args.steps)
    per_step = {name: wall / args.steps * 1e3 for name, (_, wall) in totals.items()}
    print(f"{args.model}:{recipe.name} batch {batch}, threads {torch.get_num_threads()}, "
          f"{args.steps} steps; ms/step (profiled): careful {per_step['careful']:.1f}, "
          f"ours {per_step['ours']:.1f}")
    ops = set(totals["careful"][0]) | set(totals["ours"][0])
    rows = sorted(ops, key=lambda k: -max(totals["careful"][0].get(k, 0),
                                          totals["ours"][0].get(k, 0)))
    print(f"{'op (self CPU ms per step)':48} {'careful':>9} {'ours':>9} {'ours-careful':>13}")
    for key in rows[:args.rows]:
        c = totals["careful"][0].get(key, 0) / 1e3 / args.steps
        o = totals["ours"][0].get(key, 0) / 1e3 / args.steps
        print(f"{key[:48]:48} {c:9.2f} {o:9.2f} {o - c:+13.2f}")


if __name__ == "__main__":
    main()
