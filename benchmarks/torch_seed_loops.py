"""Images per second: ganzoo's torch trainer against a plain seed-style PyTorch loop.

The plain loop is what a reader of the seed would write in PyTorch: the same card architecture
(built with ganzoo_torch's builder, so only the training style differs), a DataLoader over a
TensorDataset with shuffling, torch's default optimiser implementation, the seed's step:

- simultaneous (seed 000): one forward, ``torch.autograd.grad`` for each network's loss;
- alternating (seed 004): D step on ``G(z)`` (not detached), G step, numpy uniform noise;
- combined (seeds 001-003): ``G.eval()`` fakes, D ``train_on_batch`` style (separate or
  concatenated), then G through D with ``requires_grad_(False)`` on D.

Timings are interleaved (plain, trainer, plain, ...) and the median of the repeats is
reported; ``cpu img/s`` divides by process CPU time, which a busy machine disturbs less.

    python torch_seed_loops.py                           # mlp, dcgan, combined default recipes
    python torch_seed_loops.py --models mlp:seed004 --steps 100 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from ganzoo.cards import builtin_cards
from ganzoo.protocols import TrainConfig
from ganzoo_torch.backend import create_backend
from ganzoo_torch.builder import build_network


def plain_optimizer(spec, params):
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec["lr"], betas=(spec["beta1"], spec["beta2"]),
                                eps=spec["epsilon"])
    return torch.optim.SGD(params, lr=spec["lr"], momentum=spec["momentum"])


class PlainLoop:
    def __init__(self, recipe, images, batch, seed=0):
        torch.manual_seed(seed)
        self.recipe, self.batch = recipe, batch
        self.G, self.D = build_network(recipe.generator), build_network(recipe.discriminator)
        data = torch.from_numpy((images.astype(np.float32) - 127.5) / 127.5).permute(0, 3, 1, 2)
        self.loader = DataLoader(TensorDataset(data), batch_size=batch, shuffle=True,
                                 drop_last=True)
        self.batches = iter(self.loader)
        self.g_opt = plain_optimizer(recipe.optimizers["generator"], self.G.parameters())
        self.d_opt = plain_optimizer(recipe.optimizers["discriminator"], self.D.parameters())
        self.ones, self.zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def noise(self):
        if self.recipe.noise == "uniform":
            return torch.from_numpy(np.random.uniform(-1, 1, (self.batch, 100))).float()
        return torch.randn(self.batch, self.recipe.latent_dim)

    def next_batch(self):
        try:
            return next(self.batches)[0]
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)[0]

    def step(self):
        real, G, D = self.next_batch(), self.G, self.D
        bce = F.binary_cross_entropy_with_logits
        style = self.recipe.step
        if style == "simultaneous":
            fake = G(self.noise())
            real_out, fake_out = D(real), D(fake)
            d_loss = bce(real_out, self.ones) + bce(fake_out, self.zeros)
            g_loss = bce(fake_out, self.ones)
            g_grads = torch.autograd.grad(g_loss, list(G.parameters()), retain_graph=True)
            d_grads = torch.autograd.grad(d_loss, list(D.parameters()))
            for p, g in zip(G.parameters(), g_grads, strict=True):
                p.grad = g
            for p, g in zip(D.parameters(), d_grads, strict=True):
                p.grad = g
            self.g_opt.step()
            self.d_opt.step()
        elif style == "alternating":
            self.d_opt.zero_grad()
            d_loss = bce(D(real), self.ones) + bce(D(G(self.noise())), self.zeros)
            d_loss.backward()
            self.d_opt.step()
            self.g_opt.zero_grad()
            g_loss = bce(D(G(self.noise())), self.ones)
            g_loss.backward()
            self.g_opt.step()
        else:
            G.eval()
            with torch.no_grad():
                fake = G(self.noise())
            G.train()
            if self.recipe.d_batches == "concat":
                self.d_opt.zero_grad()
                bce(D(torch.cat([real, fake])), torch.cat([self.ones, self.zeros])).backward()
                self.d_opt.step()
            else:
                for x, y in ((real, self.ones), (fake, self.zeros)):
                    self.d_opt.zero_grad()
                    bce(D(x), y).backward()
                    self.d_opt.step()
            for p in D.parameters():
                p.requires_grad_(False)
            self.g_opt.zero_grad()
            g_loss = bce(D(G(self.noise())), self.ones)
            g_loss.backward()
            self.g_opt.step()
            for p in D.parameters():
                p.requires_grad_(True)
        return g_loss.item()  # what a seed loop logs each step


def timed(fn, steps):
    t0, c0 = time.perf_counter(), time.process_time()
    fn(steps)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,dcgan,combined")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    cards = {card.family: card for card in builtin_cards()}
    images = np.random.default_rng(0).integers(0, 256, (60000, 28, 28, 1), dtype=np.uint8)
    extra = {"torch_threads": args.threads} if args.threads else {}
    for model in args.models.split(","):
        family, _, recipe_name = model.partition(":")
        recipe = cards[family].recipe(recipe_name or None)
        batch = recipe.batch_size
        config = TrainConfig(model_id=f"{family}-torch", recipe=recipe.name, dataset="random",
                             batch_size=batch, device="cpu", extra=extra)
        trainer = create_backend(None).create_trainer(recipe, config, images)
        if args.threads:
            torch.set_num_threads(args.threads)
        plain = PlainLoop(recipe, images, batch)
        position = [0]

        def run_trainer(n, trainer=trainer, position=position):
            if position[0] + n > trainer.steps_per_epoch:
                position[0] = 0
            trainer.run_steps(0, position[0], n)
            position[0] += n

        def run_plain(n, plain=plain):
            for _ in range(n):
                plain.step()

        run_trainer(3)
        run_plain(3)
        results = {"plain": [], "ganzoo": []}
        for _ in range(args.repeats):
            results["plain"].append(timed(run_plain, args.steps))
            results["ganzoo"].append(timed(run_trainer, args.steps))
        images_done = args.steps * batch
        line = [f"{family}:{recipe.name} batch {batch} threads {torch.get_num_threads()}"]
        speed = {}
        for name, runs in results.items():
            wall = images_done / statistics.median(r[0] for r in runs)
            cpu = images_done / statistics.median(r[1] for r in runs)
            speed[name] = (wall, cpu)
            line.append(f"{name} {wall:.0f} img/s ({cpu:.0f} cpu img/s)")
        line.append(f"ratio {speed['ganzoo'][0] / speed['plain'][0]:.2f}x "
                    f"({speed['ganzoo'][1] / speed['plain'][1]:.2f}x cpu)")
        print(" | ".join(line), flush=True)


if __name__ == "__main__":
    main()
