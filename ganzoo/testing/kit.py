"""The checks of ``ganzoo.testing.check_model`` and the error that names what broke.

Each check is a function of one :class:`_Subject` (the model, its backend and recipe, tiny
synthetic images) and fails by raising ``AssertionError`` with a sentence saying what it saw.
Trainers are built with ``max_steps=None`` on ``3 * d_steps_per_g`` batches (three steps).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.catalog import Catalog, ModelSpec
from ganzoo.noise import draw_noise
from ganzoo.protocols import METRIC_KEYS, TrainConfig

FRAMEWORKS = frozenset({"torch", "tensorflow", "keras", "jax", "flax"})
# Two runs that should be the same run may differ by float rounding, never by a step.
ATOL = 1e-6
SAMPLES_ATOL = 1e-5


class ConformanceError(AssertionError):
    """A model broke one or more properties; ``failures`` maps each property to what was seen."""

    def __init__(self, model_id: str, failures: Mapping[str, str]):
        self.model_id = model_id
        self.failures = dict(failures)
        lines = "\n".join(f"- {prop}: {why}" for prop, why in self.failures.items())
        count = len(self.failures)
        super().__init__(f"{model_id} breaks {count} conformance "
                         f"propert{'y' if count == 1 else 'ies'}:\n{lines}")


@dataclass
class ConformanceReport:
    """What passed for one model, and what was skipped (with why)."""

    model_id: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Subject:
    spec: ModelSpec
    catalog: Catalog
    backend: Any
    recipe: Any
    config: TrainConfig
    images: np.ndarray
    labels: np.ndarray | None
    workdir: Path
    cache: dict[str, Any] = field(default_factory=dict)

    def trainer(self, **changes: Any) -> Any:
        config = replace(self.config, **changes)
        if self.labels is None:
            return self.backend.create_trainer(self.recipe, config, self.images)
        return self.backend.create_trainer(self.recipe, config, self.images, labels=self.labels)

    def noise(self, n: int = 8) -> tuple[np.ndarray, np.ndarray | None]:
        z = draw_noise(self.recipe.noise, n, self.recipe.latent_dim, 12345)
        labels = None if not self.recipe.conditional else \
            (np.arange(n) % int(self.recipe.classes)).astype(np.int64)
        return z, labels

    def reference(self) -> dict[str, Any]:
        """Trainer 1 (the reference): its initial weights, two single steps, the state and
        weights after each; built once and shared by the checks."""
        if "reference" not in self.cache:
            trainer = self.trainer()
            initial = _copy(trainer.weights())
            first = trainer.run_steps(0, 0, 1)
            state = _copy(trainer.state())
            trainer.run_steps(0, 1, 1)
            self.cache["reference"] = {"trainer": trainer, "initial": initial, "metrics": first,
                                       "state": state, "after_two": _copy(trainer.weights())}
        return self.cache["reference"]


def _copy(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def _differences(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray],
                 atol: float = ATOL) -> list[str]:
    """Names (with their largest difference) of tensors that differ beyond ``atol``."""
    out = [f"{k} (only in one)" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        x, y = np.asarray(a[k], np.float64), np.asarray(b[k], np.float64)
        if x.shape != y.shape:
            out.append(f"{k} (shapes {x.shape} and {y.shape})")
        elif x.size and float(np.max(np.abs(x - y))) > atol:
            out.append(f"{k} (by up to {float(np.max(np.abs(x - y))):.3g})")
    return out


def _short(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _weights_only(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v for k, v in state.items() if k.startswith(("generator.", "discriminator."))}


# -- the checks ---------------------------------------------------------------------------------

def check_listing(subject: _Subject) -> str | None:
    """A fresh process lists every model (this one included) without importing a framework,
    the model's backend module or anything its ``requires`` names."""
    factory_module = subject.spec.factory.partition(":")[0]
    heavy = sorted(FRAMEWORKS | {m.split(".")[0] for m in subject.spec.requires})
    script = (
        "import json, sys\n"
        "from ganzoo.catalog import Catalog\n"
        "ids = [m.model_id for m in Catalog.load().list_models()]\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} "
        f"or m == {factory_module!r})\n"
        "print(json.dumps({'ids': ids, 'heavy': heavy}))\n"
    )
    path = os.pathsep.join(p for p in sys.path if p and Path(p).exists())
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": path})
    assert result.returncode == 0, f"listing models failed: {result.stderr.strip()[-500:]}"
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert not seen["heavy"], f"listing models imported {', '.join(seen['heavy'])}"
    assert subject.spec.model_id in seen["ids"], (
        "a fresh process's Catalog.load() does not list it (register the plugin through an "
        "entry point in the group 'ganzoo', or select it in $GANZOO_PLUGINS)")
    return None


def check_parameter_counts(subject: _Subject) -> str | None:
    """The backend's own layer summary counts the card's expected parameters."""
    expected = dict(subject.recipe.expected_params or subject.recipe.parameter_counts())
    rows = subject.backend.summary(subject.recipe)
    counted = {f"{net}_{kind}": 0 for net in ("generator", "discriminator")
               for kind in ("trainable", "non_trainable")}
    for row in rows:
        counted[f"{row.network}_trainable"] += row.trainable
        counted[f"{row.network}_non_trainable"] += row.non_trainable
    wrong = [f"{k}: card {expected[k]:,}, built {counted.get(k, 0):,}"
             for k in sorted(expected) if counted.get(k, 0) != expected[k]]
    assert not wrong, "; ".join(wrong)
    return None


def check_one_step(subject: _Subject) -> str | None:
    """One step returns finite ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake``."""
    metrics = subject.reference()["metrics"]
    missing = [k for k in METRIC_KEYS if k not in metrics]
    assert not missing, f"run_steps returned {sorted(metrics)}, without {', '.join(missing)}"
    bad = [f"{k}={metrics[k]}" for k in METRIC_KEYS if not math.isfinite(float(metrics[k]))]
    assert not bad, f"not finite: {', '.join(bad)}"
    return None


def check_max_steps(subject: _Subject) -> str | None:
    """``run_steps(e, s, count)`` runs exactly ``count`` steps (two steps in one call equal two
    calls of one), and the core's shell trained with ``max_steps=2`` stops after 2 steps."""
    reference = subject.reference()
    together = subject.trainer()
    together.run_steps(0, 0, 2)
    diff = _differences(reference["after_two"], _copy(together.weights()))
    assert not diff, (f"run_steps(0, 0, 2) is not two steps of one (run_steps(0, 0, 1), "
                      f"run_steps(0, 1, 1)): {_short(diff)} differ")
    dataset = getattr(subject.recipe, "dataset", "")
    try:
        spec = subject.catalog.dataset(dataset)
    except Exception:  # a plugin's recipe may name no catalog dataset
        return f"shell run skipped: no dataset '{dataset}' in the catalog"
    if "bundled-test" not in getattr(spec, "split_names", ()):
        return f"shell run skipped: {dataset} has no bundled split"
    from rich.console import Console

    from ganzoo.store import RunStore
    from ganzoo.training.loop import train

    config = replace(subject.config, dataset=dataset, split="bundled-test", max_steps=2,
                     epochs=1, log_every=1)
    with open(os.devnull, "w") as quiet:
        record = train(subject.catalog, config, RunStore(subject.workdir / "home"),
                       console=Console(file=quiet), show_progress=False)
    assert record is not None and record.steps == 2, (
        f"the shell ran {getattr(record, 'steps', None)} steps with max_steps=2")
    return None


def check_seeded(subject: _Subject) -> str | None:
    """Two trainers with one seed make the same weights, step for step; another seed makes
    other initial weights (the seed is used)."""
    reference = subject.reference()
    twin = subject.trainer()
    diff = _differences(reference["initial"], _copy(twin.weights()))
    assert not diff, f"initial weights of two runs with seed {subject.config.seed} differ: " \
                     f"{_short(diff)}"
    twin.run_steps(0, 0, 1)
    twin.run_steps(0, 1, 1)
    diff = _differences(reference["after_two"], _copy(twin.weights()))
    assert not diff, f"after two steps with seed {subject.config.seed}: {_short(diff)} differ"
    other = subject.trainer(seed=subject.config.seed + 1)
    assert _differences(reference["initial"], _copy(other.weights())), (
        f"seeds {subject.config.seed} and {subject.config.seed + 1} give the same initial "
        "weights: the trainer ignores config.seed")
    return None


def check_round_trip(subject: _Subject) -> str | None:
    """A fresh trainer given ``state()`` after step 1 takes the same step 2 as the original:
    weights, optimiser slots and random streams all travel in the state."""
    reference = subject.reference()
    resumed = subject.trainer()
    resumed.load_state(reference["state"])
    diff = _differences(_weights_only(reference["state"]), _copy(resumed.weights()))
    assert not diff, f"load_state(state()) does not restore the weights: {_short(diff)}"
    resumed.run_steps(0, 1, 1)
    diff = _differences(reference["after_two"], _copy(resumed.weights()))
    assert not diff, (f"the step after load_state(state()) differs from the uninterrupted "
                      f"run's: {_short(diff)} (optimiser slots or random states lost?)")
    return None


def check_canonical(subject: _Subject) -> str | None:
    """``weights()`` holds exactly the canonical names and shapes of the card's networks."""
    expected = {**subject.recipe.generator.tensor_shapes("generator"),
                **subject.recipe.discriminator.tensor_shapes("discriminator")}
    weights = subject.reference()["trainer"].weights()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    shapes = [f"{k} {tuple(np.shape(weights[k]))} (canonical {expected[k]})"
              for k in sorted(set(expected) & set(weights))
              if tuple(np.shape(weights[k])) != tuple(expected[k])]
    problems = ([f"missing {_short(missing)}"] if missing else []) + \
        ([f"not canonical {_short(extra)}"] if extra else []) + \
        ([f"mis-shaped {_short(shapes)}"] if shapes else [])
    assert not problems, "; ".join(problems)
    return None


def _generate(generator: Any, noise: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    return np.asarray(generator.generate(noise) if labels is None
                      else generator.generate(noise, labels))


def check_export(subject: _Subject) -> str | None:
    """Weights written to a weights file and read back generate the same images."""
    from ganzoo.weights import read_weights, write_weights
    from ganzoo.weights.metadata import weights_metadata

    weights = _copy(subject.reference()["trainer"].weights())
    path = write_weights(subject.workdir / "exported.safetensors", weights,
                         weights_metadata(subject.spec, subject.config, 1))
    arrays, _ = read_weights(Path(path))
    z, labels = subject.noise()
    direct = _generate(subject.backend.load_generator(subject.recipe, weights), z, labels)
    reloaded = _generate(subject.backend.load_generator(subject.recipe, arrays), z, labels)
    gap = float(np.max(np.abs(direct - reloaded)))
    assert gap <= SAMPLES_ATOL, f"samples from the exported file differ by up to {gap:.3g}"
    return None


def check_load_generator(subject: _Subject) -> str | None:
    """``load_generator(recipe, weights())`` generates what the trainer's ``sample`` does."""
    trainer = subject.reference()["trainer"]
    z, labels = subject.noise()
    sampled = np.asarray(trainer.sample(z) if labels is None else trainer.sample(z, labels))
    loaded = _generate(subject.backend.load_generator(subject.recipe, _copy(trainer.weights())),
                       z, labels)
    assert sampled.shape == loaded.shape == (len(z), *subject.recipe.image_shape), (
        f"shapes: sample {sampled.shape}, load_generator {loaded.shape}, card "
        f"{(len(z), *subject.recipe.image_shape)}")
    gap = float(np.max(np.abs(sampled - loaded)))
    assert gap <= SAMPLES_ATOL, f"load_generator's images differ from sample's by up to {gap:.3g}"
    return None


# Check id -> (the property it names in failures, the check).
CHECKS: dict[str, tuple[str, Callable[[_Subject], str | None]]] = {
    "listing": ("listing imports no framework", check_listing),
    "parameters": ("built networks match the card's parameter counts", check_parameter_counts),
    "one_step": ("one step returns finite d_loss, g_loss, d_real, d_fake", check_one_step),
    "max_steps": ("max_steps honoured", check_max_steps),
    "seeded": ("seeded runs identical", check_seeded),
    "round_trip": ("state round-trip resumes exactly", check_round_trip),
    "canonical": ("weight names and shapes canonical", check_canonical),
    "export": ("export and reload give the same samples", check_export),
    "load_generator": ("load_generator matches sample", check_load_generator),
}


def check_model(model_id: str, *, catalog: Catalog | None = None,
                checks: Iterable[str] | None = None, skip: Iterable[str] = (),
                recipe: str | None = None, seed: int = 0, batch_size: int = 8,
                workdir: Path | str | None = None) -> ConformanceReport:
    """Run the conformance checks on ``model_id``; raise :class:`ConformanceError` naming
    every broken property, else return what passed.

    ``catalog`` defaults to ``Catalog.load()`` (entry points, $GANZOO_PLUGINS); ``checks``
    picks check ids of :data:`CHECKS` (default: all), ``skip`` leaves some out (``"listing"``
    for a plugin added in process, which a fresh process cannot see). Trainers run on the CPU,
    ``batch_size`` images a batch (at most the recipe's).
    """
    started = time.perf_counter()
    catalog = catalog or Catalog.load()
    spec = catalog.model(model_id)
    wanted = list(checks) if checks is not None else list(CHECKS)
    unknown = [c for c in [*wanted, *skip] if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown checks {unknown}; known: {', '.join(CHECKS)}")
    wanted = [c for c in wanted if c not in set(skip)]
    backend = spec.load_backend()  # refuses an old-signature create_trainer, naming the fix
    the_recipe = spec.card.recipe(recipe)
    batch = max(1, min(batch_size, the_recipe.batch_size))
    n = batch * the_recipe.d_steps_per_g * 3
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, *the_recipe.image_shape), dtype=np.uint8)
    labels = None if not the_recipe.conditional else \
        (np.arange(n) % int(the_recipe.classes)).astype(np.int64)
    config = TrainConfig(model_id=model_id, recipe=the_recipe.name,
                         dataset=getattr(the_recipe, "dataset", "fashion"), epochs=1,
                         batch_size=batch, seed=seed, device="cpu", log_every=1)
    report = ConformanceReport(model_id)
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="ganzoo-conformance-") as scratch:
        subject = _Subject(spec, catalog, backend, the_recipe, config, images, labels,
                           Path(workdir) if workdir is not None else Path(scratch))
        for check_id in wanted:
            prop, check = CHECKS[check_id]
            try:
                note = check(subject)
            except AssertionError as exc:
                failures[prop] = str(exc)
                continue
            except Exception as exc:  # a check's trainer raising is a failure of that check
                failures[prop] = f"raised {type(exc).__name__}: {exc}"
                continue
            report.passed.append(prop)
            if note:
                report.skipped[prop] = note
    report.seconds = time.perf_counter() - started
    if failures:
        raise ConformanceError(model_id, failures)
    return report


def model_ids(pattern: str = "*", catalog: Catalog | None = None) -> list[str]:
    """The ids of the catalog's models matching ``pattern``, for ``pytest.mark.parametrize``;
    the backend of each need not be installed (check_model then says so)."""
    return [m.model_id for m in (catalog or Catalog.load()).list_models(pattern)]
