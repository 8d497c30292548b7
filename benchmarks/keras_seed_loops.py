"""Images per second: ganzoo's Keras trainer against the seed-002 loop style, one process.

The seed-002 style is the classic Keras GAN loop of seeds 001-003, run per step from Python:
``generator.predict`` for the fakes, two ``discriminator.train_on_batch`` calls (real, fake)
and one ``combined.train_on_batch`` for the generator, with numpy noise and batches. It is
built from the same card architecture as the trainer, so only the training style differs.
The trainer is ``KerasTrainer`` as a full-length run of the recipe gets it, with its own XLA
choice (``--xla`` adds the other one), at the seed's batch and at the recipe's own batch.
Timings are interleaved (seed loop, trainer, trainer, ...) so a busy machine slows every side
alike; the median and the best of the repeats are reported (the best approximates an idle
machine).

    python benchmarks/keras_seed_loops.py                  # the three default Keras recipes
    python benchmarks/keras_seed_loops.py --xla --repeats 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np

from ganzoo.cards import builtin_cards
from ganzoo.protocols import TrainConfig
from ganzoo_keras.builder import build_network
from ganzoo_keras.optimizers import make_optimizer
from ganzoo_keras.runtime import keras, tf
from ganzoo_keras.trainer import KerasTrainer

DEFAULTS = ("mlp", "dcgan", "combined")


class SeedLoop:
    """The seed-002 loop (Keras 2 semantics: the D step trains D, the combined step only G)."""

    def __init__(self, recipe, images: np.ndarray, batch: int, seed: int = 0):
        keras.utils.set_random_seed(seed)
        self.batch, self.latent = batch, recipe.latent_dim
        self.images = images.astype(np.float32) / 127.5 - 1.0
        self.rng = np.random.default_rng(seed)
        self.generator = build_network(recipe.generator, "generator")
        self.discriminator = build_network(recipe.discriminator, "discriminator")
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        self.discriminator.compile(loss=loss, optimizer=make_optimizer(
            recipe.optimizers["discriminator"]), metrics=["accuracy"])
        self.discriminator.trainable = False
        z = keras.Input((self.latent,))
        self.combined = keras.Model(z, self.discriminator(self.generator(z)))
        self.combined.compile(loss=loss,
                              optimizer=make_optimizer(recipe.optimizers["generator"]))
        # Keras 3 reads `trainable` when a train function is first traced, not at compile
        # (Keras 2): trace the discriminator's with it trainable and the combined one frozen,
        # so both sides do the work they did in the seed.
        self.ones, self.zeros = np.ones((batch, 1)), np.zeros((batch, 1))
        self.discriminator.trainable = True
        self.discriminator.train_on_batch(self.images[:batch], self.ones)
        self.discriminator.trainable = False
        self.combined.train_on_batch(self._noise(), self.ones)

    def _noise(self) -> np.ndarray:
        return self.rng.normal(0, 1, (self.batch, self.latent))

    def run(self, steps: int) -> None:
        for _ in range(steps):
            idx = self.rng.integers(0, self.images.shape[0], self.batch)
            fake = self.generator.predict(self._noise(), verbose=0)
            self.discriminator.train_on_batch(self.images[idx], self.ones)
            self.discriminator.train_on_batch(fake, self.zeros)
            self.combined.train_on_batch(self._noise(), self.ones)


def trainer_for(recipe, images: np.ndarray, batch: int, xla: bool | None = None
                ) -> KerasTrainer:
    """A trainer for a full-length run of ``recipe``; ``xla`` None keeps the trainer's choice."""
    extra = {} if xla is None else {"xla": xla}
    config = TrainConfig(model_id="bench", recipe=recipe.name, dataset="random",
                         epochs=recipe.epochs, batch_size=batch, extra=extra)
    return KerasTrainer(recipe, config, images)


def label(trainer: KerasTrainer) -> str:
    return f"trainer ({'XLA' if trainer.xla else 'graph'})"


def timed(run, steps: int, batch: int) -> float:
    start = time.perf_counter()
    run(steps)
    return steps * batch / (time.perf_counter() - start)


def bench(family: str, images: np.ndarray, steps: int, repeats: int, batch: int,
          xla: bool) -> dict:
    recipe = {c.family: c for c in builtin_cards()}[family].recipe()
    seed_loop = SeedLoop(recipe, images, batch)
    default = trainer_for(recipe, images, batch)
    variants = {label(default): default}
    if xla:
        other = trainer_for(recipe, images, batch, not default.xla)
        variants[label(other)] = other
    if recipe.batch_size != batch:
        own = trainer_for(recipe, images, recipe.batch_size)
        variants[f"{label(own)} @{recipe.batch_size}"] = own
    position = dict.fromkeys(variants, 0)
    steps = min(steps, *(t.steps_per_epoch for t in variants.values()))

    def runner(name: str):
        trainer = variants[name]

        def run(n: int) -> None:
            if position[name] + n > trainer.steps_per_epoch:
                position[name] = 0
            trainer.run_steps(0, position[name], n)
            position[name] += n
        return run

    for name in variants:  # warm-up: trace (and compile) outside the timings
        runner(name)(2)
    seed_loop.run(2)
    samples: dict[str, list[float]] = {"seed-002 loop": [], **{n: [] for n in variants}}
    for _ in range(repeats):
        samples["seed-002 loop"].append(timed(seed_loop.run, steps, batch))
        for name, trainer in variants.items():
            samples[name].append(timed(runner(name), steps, trainer.batch_size))
    median = {name: statistics.median(values) for name, values in samples.items()}
    best = {name: max(values) for name, values in samples.items()}
    seed_name, default_name = "seed-002 loop", label(default)
    return {"family": family, "recipe": recipe.name, "step": recipe.step, "batch": batch,
            "samples": samples, "median": median, "best": best, "default": default_name,
            "ratio_median": median[default_name] / median[seed_name],
            "ratio_best": best[default_name] / best[seed_name]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(DEFAULTS))
    parser.add_argument("--steps", type=int, default=20, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=32, help="the seed-002 batch size")
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--xla", action="store_true",
                        help="also time the trainer with the other XLA choice")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    images = np.random.default_rng(0).integers(0, 256, (args.images, 28, 28, 1), np.uint8)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"devices {[d.name for d in tf.config.list_logical_devices()]}")
    results = []
    for family in args.families.split(","):
        row = bench(family, images, args.steps, args.repeats, args.batch, args.xla)
        results.append(row)
        print(f"{family}-keras ({row['recipe']}, {row['step']}), batch {row['batch']}, "
              "images/s median (best):")
        for name in row["median"]:
            print(f"  {name:28s} {row['median'][name]:8,.0f} ({row['best'][name]:,.0f})")
        print(f"  {row['default']} / seed loop: {row['ratio_median']:.1f}x median, "
              f"{row['ratio_best']:.1f}x best", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
