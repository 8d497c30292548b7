"""Training images/s of every built-in model against a seed-style loop of the same architecture.

One command, one run: for each model (and recipe) a child process builds ganzoo's trainer
through the catalog and the seed-style baseline(s) of the same card architecture, warms both
up, then times them interleaved (baseline, ours, baseline, ours, ...) and reports the median.
A process per model keeps frameworks apart and makes peak RSS a per-model figure.

    python benchmarks/run.py --quick                       # every catalog model, minutes
    python benchmarks/run.py --models mlp-torch,dcgan-keras --repeats 7 --json out.json
    python benchmarks/run.py --quick --models mlp-torch:seed004,mlp-keras --recipes all

Baselines (see benchmarks/README.md): every model first runs the careful hand-written loop
of ``careful_loops`` (in-memory tensors, randperm batches, the recipe's step and loss, stock
optimisers; Keras: one ``tf.function`` step per call); then the seed-style loops where the
recipe is one they can write (bce_logits, one D step per G step, no penalty): torch models
``torch_seed_loops.PlainLoop`` (DataLoader, torch.optim, the step written plainly), Keras
models ``keras_seed_loops.SeedLoop`` (``predict`` + ``train_on_batch`` per step), and recipes
with the tutorial's simultaneous step also the seed-000 tutorial loop. Each model's row also
gives the FLOPs of one step (torch's flop counter over the careful torch step of the same
card, for Keras models too), the achieved GFLOP/s and its fraction of the matrix-multiply peak
timed in the same process (the best of a 2048x2048 sgemm and a 3x3 oneDNN convolution).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # the seed-loop modules sit beside this file
    sys.path.insert(0, str(HERE))

TARGETS = {"torch": 1.5, "keras": 5.0}  # issue 8: ours / seed-style, on this CPU
# issue 17: ours / the careful loop: torch models >= 1.0x, mlp-torch (overhead-bound) 1.5x.
CAREFUL_TARGETS = {"torch": 1.0, "mlp-torch": 1.5}
SEED_STYLE_NOTE = ("seed-style loops write bce_logits, one D step per G step, no penalty, "
                   "unconditional")
N_IMAGES = 60_000  # a Fashion-MNIST-sized set of random images: memory is realistic
# Seconds per timing (steps are sized to it), repeats, warm-up steps, fewest steps per timing.
QUICK = {"budget": 1.0, "repeats": 3, "warmup": 1, "min_steps": 2}
FULL = {"budget": 5.0, "repeats": 5, "warmup": 5, "min_steps": 5}
MAX_STEPS = 5000
MB = 1024 * 1024


# -- memory and timing ------------------------------------------------------------------------


def proc_status(key: str) -> int:
    """A ``/proc/self/status`` field in bytes (``VmRSS``, ``VmHWM``); 0 where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False where Linux refuses."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def timed(run: Callable[[int], Any], steps: int) -> tuple[float, float]:
    """Wall and process-CPU seconds of ``run(steps)``."""
    t0, c0 = time.perf_counter(), time.process_time()
    run(steps)
    return time.perf_counter() - t0, time.process_time() - c0


@dataclass
class Side:
    """One thing being timed: ganzoo's trainer or a baseline loop."""

    name: str
    description: str
    run: Callable[[int], Any]
    target: float | None = None  # the ratio ours / this baseline should reach
    steps: int = 0
    setup_s: float = 0.0
    peak_rss_delta_mb: float = 0.0
    peak_reset: bool = False  # whether VmHWM could be reset before building
    per_step_s: float = 0.0
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    def prepare(self, build: Callable[[], Callable[[int], Any]], warmup: int) -> None:
        """Build, warm up (tracing, compiling) and probe the step time; peak RSS around it."""
        self.peak_reset = reset = reset_peak()
        before = proc_status("VmRSS")
        t0 = time.perf_counter()
        self.run = build()
        self.run(warmup)
        self.setup_s = time.perf_counter() - t0
        wall, _ = timed(self.run, warmup)
        self.per_step_s = wall / warmup
        peak = proc_status("VmHWM") if reset else max(proc_status("VmHWM"), before)
        self.peak_rss_delta_mb = max(0, peak - before) / MB

    def summary(self, batch: int) -> dict[str, Any]:
        images = self.steps * batch
        return {
            "name": self.name, "description": self.description, "target": self.target,
            "steps": self.steps, "setup_s": self.setup_s,
            "peak_rss_delta_mb": self.peak_rss_delta_mb, "peak_reset": self.peak_reset,
            "wall_s": self.wall_s, "cpu_s": self.cpu_s,
            "images_per_s": images / statistics.median(self.wall_s),
            "images_per_cpu_s": images / statistics.median(self.cpu_s),
            "best_images_per_s": images / min(self.wall_s),
        }


# -- the sides ------------------------------------------------------------------------------


def trainer_runner(trainer: Any, chunk: int) -> Callable[[int], None]:
    """``run(n)``: n steps through ``Trainer.run_steps`` in the training shell's chunks
    (``log_every`` steps per call, one metrics read-back each), wrapping at the epoch's end."""
    position = [0]

    def run(n: int) -> None:
        while n > 0:
            if position[0] >= trainer.steps_per_epoch:
                position[0] = 0
            count = min(chunk, n, trainer.steps_per_epoch - position[0])
            trainer.run_steps(0, position[0], count)
            position[0] += count
            n -= count

    return run


class TutorialLoop:
    """The seed-000 tutorial loop: tf.data ``shuffle(60000).batch(128)``, one ``@tf.function``
    GradientTape step per batch (both networks from one forward), stock Keras Adam."""

    def __init__(self, recipe: Any, images: np.ndarray, batch: int, seed: int = 0):
        from ganzoo_keras.builder import build_network
        from ganzoo_keras.runtime import keras, tf

        keras.utils.set_random_seed(seed)
        generator = build_network(recipe.generator, "generator")
        discriminator = build_network(recipe.discriminator, "discriminator")
        g_opt, d_opt = (self._adam(keras, recipe.optimizers[part])
                        for part in ("generator", "discriminator"))
        cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        latent = recipe.latent_dim
        data = images.astype(np.float32) / 127.5 - 1.0
        # drop_remainder: the trainer drops the partial batch too, and shapes stay fixed.
        self.dataset = (tf.data.Dataset.from_tensor_slices(data).shuffle(60000, seed=seed)
                        .batch(batch, drop_remainder=True))
        self.batches = iter(self.dataset)

        @tf.function
        def train_step(real: Any) -> tuple[Any, Any]:
            noise = tf.random.normal([batch, latent])
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                fake = generator(noise, training=True)
                real_out = discriminator(real, training=True)
                fake_out = discriminator(fake, training=True)
                d_loss = (cross_entropy(tf.ones_like(real_out), real_out)
                          + cross_entropy(tf.zeros_like(fake_out), fake_out))
                g_loss = cross_entropy(tf.ones_like(fake_out), fake_out)
            g_grads = gen_tape.gradient(g_loss, generator.trainable_variables)
            d_grads = disc_tape.gradient(d_loss, discriminator.trainable_variables)
            g_opt.apply_gradients(zip(g_grads, generator.trainable_variables, strict=True))
            d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables, strict=True))
            return g_loss, d_loss

        self.train_step = train_step

    @staticmethod
    def _adam(keras: Any, spec: Any) -> Any:
        if spec.name != "adam":
            return keras.optimizers.SGD(learning_rate=spec["lr"], momentum=spec["momentum"])
        return keras.optimizers.Adam(learning_rate=spec["lr"], beta_1=spec["beta1"],
                                     beta_2=spec["beta2"], epsilon=spec["epsilon"])

    def run(self, steps: int) -> None:
        for _ in range(steps):
            try:
                real = next(self.batches)
            except StopIteration:
                self.batches = iter(self.dataset)
                real = next(self.batches)
            self.train_step(real)  # the tutorial keeps the loss tensors; it never syncs


TORCH_STYLES = {
    "simultaneous": "seed 000 tutorial step in PyTorch: one forward, autograd.grad per net",
    "alternating": "seed 004 loop: D step on G(z), then G step, numpy uniform noise",
    "combined": "seeds 001-003 train_on_batch style in PyTorch: G.eval() fakes, D step(s), "
                "G through frozen D",
}


def seed_style_fits(recipe: Any) -> bool:
    """Whether the seed-style loops (bce_logits, one D step per G step, no penalty) write
    ``recipe``'s step; they are skipped with a note where not."""
    return (recipe.loss == "bce_logits" and recipe.d_steps_per_g == 1 and recipe.penalty is None
            and not getattr(recipe, "conditional", False))


def careful_baseline(model_id: str, backend: str, recipe: Any, images: np.ndarray,
                     batch: int) -> tuple:
    """(name, description, target, build or the reason there is none) for the careful loop."""
    from careful_loops import careful_keras_loop, careful_torch_loop, unsupported

    if backend == "torch":
        description = ("careful_loops.careful_torch_loop: one float tensor in memory, randperm "
                       "batches, the recipe's step by hand, torch.optim Adam/SGD, loss read "
                       "every 20 steps")
        target = CAREFUL_TARGETS.get(model_id, CAREFUL_TARGETS["torch"])
        loop = careful_torch_loop
    else:
        description = ("careful_loops.careful_keras_loop: in-memory tensor, tf.gather of a "
                       "permutation, one @tf.function step per call, keras Adam/SGD")
        target, loop = None, careful_keras_loop
    why = unsupported(recipe)
    if why is not None:
        return ("careful loop", description, target, why)
    return ("careful loop", description, target, lambda: loop(recipe, images, batch))


def torch_baselines(recipe: Any, images: np.ndarray, batch: int) -> list[tuple]:
    """(name, description, target, build) for the torch seed-style baseline."""
    from torch_seed_loops import PlainLoop

    if not seed_style_fits(recipe):
        return [("seed-style torch loop", "", TARGETS["torch"], SEED_STYLE_NOTE)]

    def build() -> Callable[[int], None]:
        loop = PlainLoop(recipe, images, batch)

        def run(n: int) -> None:
            for _ in range(n):
                loop.step()
        return run

    description = (f"torch_seed_loops.PlainLoop: DataLoader(shuffle) + torch.optim, "
                   f"{TORCH_STYLES.get(recipe.step, recipe.step)}; .item() each step")
    return [("seed-style torch loop", description, TARGETS["torch"], build)]


def keras_baselines(recipe: Any, images: np.ndarray, batch: int) -> list[tuple]:
    """(name, description, target, build) for the Keras seed-style baselines."""
    from keras_seed_loops import SeedLoop

    if not seed_style_fits(recipe):
        return [("seed-002 loop", "", TARGETS["keras"], SEED_STYLE_NOTE)]

    out = [("seed-002 loop", "keras_seed_loops.SeedLoop: generator.predict + 2x "
            "discriminator.train_on_batch + combined.train_on_batch per step, numpy batches "
            "and noise", TARGETS["keras"], lambda: SeedLoop(recipe, images, batch).run)]
    if recipe.step == "simultaneous":
        out.append(("seed-000 tutorial", "TutorialLoop (run.py): the seed-000 tutorial, "
                    "tf.data shuffle/batch + @tf.function GradientTape step, stock Adam; "
                    "informational, no target", None,
                    lambda: TutorialLoop(recipe, images, batch).run))
    return out


# -- one model, in its own process ------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def threads_report(backend: str) -> dict[str, Any]:
    """The thread counts in effect (TF's 0 means its default: one per core)."""
    if backend == "torch":
        import torch

        return {"torch_threads": torch.get_num_threads(),
                "torch_interop_threads": torch.get_num_interop_threads()}
    from ganzoo.frameworks import import_tensorflow

    tf = import_tensorflow()
    return {"tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "usable_cpus": len(os.sched_getaffinity(0))}


def measure_one(target: str, args: argparse.Namespace) -> dict[str, Any]:
    """Everything about one model and recipe: both sides' timings, memory and threads."""
    from ganzoo.catalog import Catalog
    from ganzoo.protocols import TrainConfig

    warnings.filterwarnings("ignore")
    model_id, _, recipe_name = target.partition(":")
    spec = Catalog.load().model(model_id)
    recipe = spec.card.recipe(recipe_name or None)
    batch = args.batch or recipe.batch_size
    extra: dict[str, Any] = {}
    # torch first (importing TensorFlow before torch crashes): the FLOP count of the card's
    # step (the torch build of the same card for Keras models) and the matmul peak.
    import torch
    from careful_loops import class_labels, peak_rates, torch_flops_per_step, unsupported

    if args.threads:
        torch.set_num_threads(args.threads)
    flops = None if unsupported(recipe) else torch_flops_per_step(recipe, batch)
    rates = [peak_rates()]
    if spec.backend == "keras":
        from ganzoo.frameworks import import_tensorflow

        tf = import_tensorflow()
        if args.threads:  # before TensorFlow starts its runtime
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    elif args.threads:
        extra["torch_threads"] = args.threads
    backend = spec.load_backend()
    images = np.random.default_rng(0).integers(0, 256, (args.images, *recipe.image_shape),
                                               dtype=np.uint8)
    config = TrainConfig(model_id=spec.model_id, recipe=recipe.name, dataset="random",
                         epochs=recipe.epochs, batch_size=batch, device="cpu", extra=extra)
    rss_start = proc_status("VmRSS")
    log(f"{target}: {recipe.name}, batch {batch}, warming up")

    ours = Side("ganzoo", "", lambda n: None)
    trainer: Any = None

    def build_ours() -> Callable[[int], None]:
        nonlocal trainer
        # A class-conditional recipe trains on labelled images: random labels, like the
        # images, and the same ones the careful loop gets.
        labelled = {"labels": class_labels(recipe, None, len(images))} if getattr(
            recipe, "conditional", False) else {}
        trainer = backend.create_trainer(recipe, config, images, **labelled)
        return trainer_runner(trainer, config.log_every)

    ours.prepare(build_ours, args.warmup)
    kind = type(trainer).__name__
    if hasattr(trainer, "xla"):
        kind += " (XLA)" if trainer.xla else " (graph)"
    ours.description = (f"{kind} via Catalog -> create_trainer, run_steps in chunks of "
                        f"{config.log_every}")
    careful = careful_baseline(spec.model_id, spec.backend, recipe, images, batch)
    if spec.backend == "torch":
        if args.threads:
            torch.set_num_threads(args.threads)
        factories = [careful, *torch_baselines(recipe, images, batch)]
    else:
        factories = [careful, *keras_baselines(recipe, images, batch)]
    baselines, skipped = [], []
    for name, description, goal, build in factories:
        if isinstance(build, str):  # no such loop for this recipe: the reason instead
            skipped.append({"name": name, "skipped": build, "target": goal})
            log(f"{target}: {name} skipped: {build}")
            continue
        side = Side(name, description, lambda n: None, goal)
        side.prepare(build, args.warmup)
        baselines.append(side)

    sides = [*baselines, ours]  # the order of every repeat: baselines first, then ours
    for side in sides:
        sized = round(args.budget / side.per_step_s)
        side.steps = args.steps or min(MAX_STEPS, max(args.min_steps, sized))
    for r in range(args.repeats):
        for side in sides:
            wall, cpu = timed(side.run, side.steps)
            side.wall_s.append(wall)
            side.cpu_s.append(cpu)
        rates.append(peak_rates(repeats=3))  # between repeats: a busy machine hits it too
        log(f"{target}: repeat {r + 1}/{args.repeats}: " + ", ".join(
            f"{s.name} {s.steps * batch / s.wall_s[-1]:,.0f} img/s" for s in sides))
    rates.append(peak_rates())  # after the timings too: the peak is the best of them all

    ours_row = ours.summary(batch)
    sgemm, conv = [r["sgemm"] for r in rates], [r["conv_gemm"] for r in rates]
    peak = max(*sgemm, *conv)
    compute = {"flops_per_step": flops, "sgemm_gflops": sgemm, "conv_gemm_gflops": conv,
               "peak_gflops": peak, "peak_from": "conv_gemm" if max(conv) >= max(sgemm)
               else "sgemm",
               "flops_from": "torch flop counter over the careful torch step of this card"
                             + (" (the torch build: Keras is not counted)"
                                if spec.backend == "keras" else "")}
    if flops is not None:
        rate = flops * ours_row["images_per_s"] / batch / 1e9
        compute.update(gflops_per_s=rate, fraction_of_peak=rate / peak)
    rows = []
    for side in baselines:
        row = side.summary(batch)
        row["ratio"] = ours_row["images_per_s"] / row["images_per_s"]
        row["ratio_cpu"] = ours_row["images_per_cpu_s"] / row["images_per_cpu_s"]
        row["ratio_best"] = ours_row["best_images_per_s"] / row["best_images_per_s"]
        row["met"] = None if side.target is None else row["ratio"] >= side.target
        if flops is not None:
            row["gflops_per_s"] = flops * row["images_per_s"] / batch / 1e9
        rows.append(row)
    rows += skipped
    return {
        "model": spec.model_id, "backend": spec.backend, "family": spec.family,
        "recipe": recipe.name, "step": recipe.step, "batch": batch, "images": args.images,
        "repeats": args.repeats, "warmup_steps": args.warmup, "chunk": config.log_every,
        "ours": ours_row, "baselines": rows, "compute": compute,
        "threads": threads_report(spec.backend),
        "rss_start_mb": rss_start / MB, "rss_end_mb": proc_status("VmRSS") / MB,
    }


def child_main(args: argparse.Namespace) -> int:
    """``--one``: measure one model; with ``--json -`` the JSON is the only thing on stdout."""
    to_stdout = args.json in (None, "-")
    saved = os.dup(1)
    if to_stdout:
        os.dup2(2, 1)  # whatever the frameworks print goes to stderr, not into the JSON
    try:
        result = measure_one(args.one, args)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    text = json.dumps(result, indent=2)
    if to_stdout:
        print(text, flush=True)
    else:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


# -- the parent: every model, a table and a JSON file ------------------------------------------


def select(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The (model id, recipe) pairs to run, checked against the catalog (no framework import)."""
    from ganzoo.catalog import Catalog

    catalog = Catalog.load()
    pairs: list[tuple[str, str]] = []
    items = [s.strip() for s in args.models.split(",")] if args.models else [
        m.model_id for m in catalog.list_models() if m.installed]
    for item in filter(None, items):
        model_id, _, named = item.partition(":")
        card = catalog.model(model_id).card
        if named:
            recipes = [card.recipe(named).name]
        elif args.recipes == "default":
            recipes = [card.default_recipe]
        elif args.recipes == "all":
            recipes = list(card.recipes)
        else:
            wanted = args.recipes.split(",")
            recipes = [r for r in card.recipes if r in wanted] or [card.default_recipe]
        pairs += [(model_id, r) for r in recipes if (model_id, r) not in pairs]
    return pairs


def run_child(model_id: str, recipe: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--one", f"{model_id}:{recipe}",
               "--json", "-", "--repeats", str(args.repeats), "--warmup", str(args.warmup),
               "--budget", str(args.budget), "--images", str(args.images)]
    if args.quick:
        command.append("--quick")
    for flag in ("steps", "batch", "threads"):
        if getattr(args, flag):
            command += [f"--{flag}", str(getattr(args, flag))]
    t0 = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        return {"model": model_id, "recipe": recipe, "error": f"exit code {done.returncode}",
                "seconds": time.perf_counter() - t0}
    result = json.loads(done.stdout)
    result["seconds"] = time.perf_counter() - t0
    return result


def git_state() -> dict[str, Any]:
    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def machine_info() -> dict[str, Any]:
    versions = {}
    for dist in ("torch", "tensorflow-cpu", "tensorflow", "keras", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    cpu_model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu_model = next((line.split(":", 1)[1].strip() for line in fh
                              if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model, "platform": platform.platform(),
        "python": platform.python_version(), "versions": versions,
        "load_average_start": os.getloadavg(), "git": git_state(),
    }


def print_table(results: list[dict[str, Any]], stream: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ganzoo trainer vs careful and seed-style loops (CPU, median of repeats)")
    for name in ("model", "recipe", "batch", "ours img/s", "baseline", "base img/s", "ratio",
                 "cpu ratio", "target", "met?", "GFLOP/step", "ours GFLOP/s", "% peak",
                 "peak GFLOP/s", "ours ΔRSS MB", "base ΔRSS MB"):
        numeric = name not in ("model", "recipe", "baseline", "met?")
        table.add_column(name, justify="right" if numeric else "left")
    notes = []
    for result in results:
        if "error" in result:
            table.add_row(result["model"], result["recipe"], *[""] * 7, "[red]error[/]",
                          *[""] * 6)
            continue
        ours, compute = result["ours"], result.get("compute", {})
        flops = compute.get("flops_per_step")
        for i, base in enumerate(result["baselines"]):
            first = i == 0
            lead = [result["model"] if first else "", result["recipe"] if first else "",
                    str(result["batch"]) if first else "",
                    f"{ours['images_per_s']:,.0f}" if first else "", base["name"]]
            tail = [f"{flops / 1e9:,.2f}" if first and flops else "",
                    f"{compute['gflops_per_s']:,.1f}" if first and flops else "",
                    f"{compute['fraction_of_peak']:.0%}" if first and flops else "",
                    f"{compute['peak_gflops']:,.0f}" if first and compute else "",
                    f"{ours['peak_rss_delta_mb']:,.0f}" if first else ""]
            if "skipped" in base:
                notes.append(f"{result['model']}: {base['name']} skipped: {base['skipped']}")
                table.add_row(*lead, "[dim]skipped[/]", *[""] * 4, *tail, "")
                continue
            met = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[base["met"]]
            table.add_row(
                *lead, f"{base['images_per_s']:,.0f}", f"{base['ratio']:.2f}x",
                f"{base['ratio_cpu']:.2f}x",
                f"{base['target']:.1f}x" if base["target"] else "-", met, *tail,
                f"{base['peak_rss_delta_mb']:,.0f}")
    width = None if stream.isatty() else 250
    console = Console(file=stream, width=width)
    console.print(table)
    for note in notes:
        console.print(note)
    if any(r.get("backend") == "keras" for r in results):
        console.print("Keras rows: FLOPs counted on the torch build of the same card.")


def parent_main(args: argparse.Namespace) -> int:
    pairs = select(args)
    info = machine_info()
    started = dt.datetime.now(dt.timezone.utc)
    results = []
    for model_id, recipe in pairs:
        result = run_child(model_id, recipe, args)
        results.append(result)
        if "error" in result:
            log(f"{model_id}:{recipe}: {result['error']}")
    info["load_average_end"] = os.getloadavg()
    report = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {"quick": args.quick, "steps": args.steps, "budget_s": args.budget,
                     "repeats": args.repeats, "warmup_steps": args.warmup,
                     "images": args.images, "batch": args.batch, "threads": args.threads},
        "targets": TARGETS, "machine": info, "results": results,
        "seconds": (dt.datetime.now(dt.timezone.utc) - started).total_seconds(),
    }
    out = sys.stderr if args.json == "-" else sys.stdout
    print_table(results, out)
    print(f"load average {info['load_average_start'][0]:.1f} -> "
          f"{info['load_average_end'][0]:.1f} on {info['usable_cpus']} CPUs; "
          f"{report['seconds']:.0f} s", file=out)
    text = json.dumps(report, indent=2)
    if args.json == "-":
        print(text)
    else:
        path = Path(args.json) if args.json else (
            ROOT / "runs" / "benchmarks" / f"bench-{started:%Y%m%d-%H%M%S}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        print(f"JSON: {path}", file=out)
    return 1 if any("error" in r for r in results) else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="short timings (about 1 s each, 3 repeats): a few minutes in all")
    parser.add_argument("--models", default="",
                        help="comma-separated model ids, optionally id:recipe (default: every "
                             "installed model in the catalog)")
    parser.add_argument("--recipes", default="default",
                        help="default | all | comma-separated recipe names (where the card "
                             "has them)")
    parser.add_argument("--json", help="write the JSON here ('-': stdout; default: "
                                       "runs/benchmarks/bench-<date>.json)")
    parser.add_argument("--steps", type=int,
                        help="steps per timing for every side (default: sized to --budget)")
    parser.add_argument("--budget", type=float, help="seconds per timing when sizing steps")
    parser.add_argument("--repeats", type=int, help="timed repeats per side (median reported)")
    parser.add_argument("--warmup", type=int, help="warm-up steps per side, excluded")
    parser.add_argument("--batch", type=int, help="override the recipe's batch size")
    parser.add_argument("--images", type=int, default=N_IMAGES,
                        help="random training images held by each side")
    parser.add_argument("--threads", type=int,
                        help="torch threads and TF intra/inter-op threads (default: the "
                             "frameworks' and trainers' own: every core)")
    parser.add_argument("--one", metavar="MODEL[:RECIPE]", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    args.budget = args.budget or defaults["budget"]
    args.repeats = args.repeats or defaults["repeats"]
    args.warmup = args.warmup or defaults["warmup"]
    args.min_steps = defaults["min_steps"]
    return args


def main(argv: list[str] | None = None) -> int:
    from ganzoo.errors import GanzooError

    args = parse_args(argv)
    try:
        return child_main(args) if args.one else parent_main(args)
    except GanzooError as exc:  # unknown model or recipe: say so, no traceback
        log(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
