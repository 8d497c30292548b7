"""Keras under ``tf.distribute.MirroredStrategy``, for real: two logical CPU devices.

Each check runs in a subprocess: the CPU can only be split into logical devices before
TensorFlow initialises, which the rest of the test session will long have done.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

if importlib.util.find_spec("tensorflow") is None:  # not importorskip: torch must load first
    pytest.skip("the keras extra is not installed", allow_module_level=True)

pytestmark = [pytest.mark.keras, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, tmp_path: Path) -> dict:
    """Run ``code`` in a fresh interpreter; the JSON it printed last."""
    env = dict(os.environ, GANZOO_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


TRAINER = """
import json
import numpy as np
from ganzoo.cards import builtin_cards
from ganzoo.protocols import TrainConfig
from ganzoo_keras.backend import create_backend
from ganzoo_keras.trainer import PARTS

cards = {c.family: c for c in builtin_cards()}
images = np.random.default_rng(0).integers(0, 256, (256, 28, 28, 1), dtype=np.uint8)
out = {}
for family, name, steps in %s:
    recipe = cards[family].recipe(name)
    config = TrainConfig(model_id=f"{family}-keras", recipe=name, dataset="random",
                         batch_size=32, seed=5, device="cpu", max_steps=steps, devices=2)
    trainer = create_backend(None).create_trainer(recipe, config, images)
    before = trainer.weights()
    metrics = trainer.run_steps(0, 0, steps)
    after = trainer.weights()
    unmirrored, different, replicas = [], [], set()
    for part in PARTS:
        for var in [*trainer._model(part).variables, *trainer.optimizers[part].variables]:
            values = getattr(var.value, "values", None)
            if values is None:
                unmirrored.append(var.path)
                continue
            replicas.add(len(values))
            first = values[0].numpy()
            if not all(np.array_equal(first, v.numpy()) for v in values[1:]):
                different.append(var.path)
    out[f"{family}/{name}"] = {
        "replicas": sorted(replicas),
        "metrics": metrics,
        "changed": [k for k in before if not np.array_equal(before[k], after[k])],
        "weights": len(before),
        "unmirrored": unmirrored,
        "different": different,
        "sample": list(trainer.sample(np.zeros((3, recipe.latent_dim), np.float32)).shape),
    }
print(json.dumps(out))
"""

RECIPES = [("mlp", "seed004", 3), ("mlp", "seed002", 2), ("combined", "seed001", 2),
           ("dcgan", "seed000", 1)]


def test_two_replicas_train_and_stay_identical(tmp_path):
    results = run_python(TRAINER % (RECIPES,), tmp_path)
    assert len(results) == len(RECIPES)
    for key, r in results.items():
        assert r["replicas"] == [2], key
        assert all(abs(v) < float("inf") and v == v for v in r["metrics"].values()), key
        assert len(r["changed"]) == r["weights"], (key, r["changed"])
        assert r["unmirrored"] == [], key
        # The real check: every variable (weights, batch-norm statistics, optimiser slots,
        # dropout seeds) is the same on both replicas although each saw its own data.
        assert r["different"] == [], key
        assert r["sample"] == [3, 28, 28, 1], key


EQUIVALENCE = """
import dataclasses
import json
import numpy as np
from ganzoo.cards import OptimizerSpec, builtin_cards
from ganzoo.protocols import TrainConfig
from ganzoo_keras.backend import create_backend
from ganzoo_keras.canonical import from_canonical
from ganzoo_keras.runtime import tf

BATCH, STEPS = 32, 2
VARIANTS = %s
cards = {c.family: c for c in builtin_cards()}
images = np.random.default_rng(0).integers(0, 256, (256, 28, 28, 1), dtype=np.uint8)


def recipe_for(family, name, step, drop, k):
    recipe = cards[family].recipe(name)
    plain = lambda net: dataclasses.replace(net, layers=tuple(
        layer for layer in net.layers if layer.kind not in drop))
    sgd = OptimizerSpec("sgd", {"lr": 0.5, "momentum": 0.0})
    return dataclasses.replace(recipe, step=step, d_steps_per_g=k,
                               generator=plain(recipe.generator),
                               discriminator=plain(recipe.discriminator),
                               optimizers={"generator": sgd, "discriminator": sgd})


class SharedNoise:
    # Draw j (per replica, in trace order) is the j-th fixed global batch; replica r gets
    # rows r*n .. (r+1)*n of it, so the replicas together see what one device sees.
    def __init__(self, latent):
        self.latent, self.drawn = latent, {}

    def __call__(self, n):
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        key = int(tf.get_static_value(replica))
        j = self.drawn[key] = self.drawn.get(key, -1) + 1
        rows = np.random.default_rng([7, j]).uniform(-1, 1, (BATCH, self.latent))
        return tf.slice(tf.constant(rows.astype(np.float32)), [key * n, 0], [n, self.latent])


def trained(recipe, devices, start):
    config = TrainConfig(model_id="m-keras", recipe=recipe.name, dataset="random",
                         batch_size=BATCH, seed=5, device="cpu", max_steps=STEPS,
                         devices=devices, extra={"xla": False})
    trainer = create_backend(None).create_trainer(recipe, config, images)
    if start is not None:
        for part in ("generator", "discriminator"):
            from_canonical(getattr(trainer, part), part, start)
    trainer.steps.noise = SharedNoise(recipe.latent_dim)
    before = trainer.weights()
    metrics = trainer.run_steps(0, 0, STEPS)
    return before, trainer.weights(), metrics, trainer


out = {}
for name, family, recipe_name, step, drop, k in VARIANTS:
    recipe = recipe_for(family, recipe_name, step, drop, k)
    before, mirrored, m_metrics, trainer = trained(recipe, 2, None)  # strategy first
    assert trainer.replicas == 2 and trainer.strategy is not None
    _, single, s_metrics, _ = trained(recipe, 1, before)
    worst, smallest = 0.0, float("inf")
    for key in single:
        update = single[key] - before[key]
        scale = float(np.abs(update).max())
        smallest = min(smallest, scale)
        worst = max(worst, float(np.abs(mirrored[key] - single[key]).max()) / scale)
    out[name] = {"worst": worst, "smallest_update": smallest, "keys": len(single),
                 "metrics": [m_metrics[k] - s_metrics[k] for k in s_metrics]}
print(json.dumps(out))
"""

# (name, family, recipe, step kind, layers removed, discriminator updates per generator
# update). Dropout goes (each replica draws its own
# masks); batch norm stays in one combined variant: the trainer syncs its statistics over the
# replicas, so the normalisation is the global batch's. SGD, not Adam: Adam divides by its
# own gradient scale, so an N-times gradient would take nearly the same step unseen.
EQUIVALENT = [("alternating", "mlp", "seed004", "alternating", ("dropout",), 1),
              ("alternating-k2", "mlp", "seed004", "alternating", ("dropout",), 2),
              ("simultaneous", "mlp", "seed004", "simultaneous", ("dropout",), 1),
              ("combined", "mlp", "seed003", "combined", ("batch_norm",), 1),
              ("combined-bn", "mlp", "seed003", "combined", (), 1)]


def test_replica_update_equals_the_single_device_update_on_the_whole_batch(tmp_path):
    """ganzoo's Keras trainer on 2 replicas (half the batch each) = 1 device on the whole batch.

    The optimisers sum the replicas' gradients, so each replica's loss must be scaled by 1/N;
    without it every update is N times too large, far outside the tolerance.
    """
    results = run_python(EQUIVALENCE % (EQUIVALENT,), tmp_path)
    assert set(results) == {v[0] for v in EQUIVALENT}
    for name, r in results.items():
        # Every tensor moved well beyond float32 noise, so equality means something.
        assert r["smallest_update"] > 1e-4, name
        # Largest difference relative to the tensor's own update (float32 sums reordered).
        assert r["worst"] < 1e-3, (name, r)
        assert max(abs(d) for d in r["metrics"]) < 1e-5, (name, r)


def test_uneven_batch_is_refused(tmp_path):
    code = """
    import json
    import numpy as np
    from ganzoo.cards import builtin_cards
    from ganzoo.errors import UsageError
    from ganzoo.protocols import TrainConfig
    from ganzoo_keras.backend import create_backend

    recipe = {c.family: c for c in builtin_cards()}["mlp"].recipe("seed004")
    images = np.zeros((64, 28, 28, 1), np.uint8)
    config = TrainConfig(model_id="mlp-keras", recipe="seed004", dataset="random",
                         batch_size=31, device="cpu", devices=2)
    try:
        create_backend(None).create_trainer(recipe, config, images)
    except UsageError as e:
        print(json.dumps({"error": str(e)}))
    """
    assert "does not divide" in run_python(code, tmp_path)["error"]


def test_cli_devices_two_trains_in_one_process_and_registers_once(tmp_path):
    env = dict(os.environ, GANZOO_HOME=str(tmp_path / "home"), COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "ganzoo", "train", "mlp-keras", "--recipe", "seed004",
         "--data", "fashion", "--split", "bundled-test", "--epochs", "1", "--max-steps", "4",
         "--devices", "2", "--no-progress"],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Launching" not in proc.stdout  # no torchrun: one process, two replicas
    versions = sorted((tmp_path / "home" / "models" / "mlp-keras").iterdir())
    assert [v.name for v in versions] == ["1"]
    assert (versions[0] / "samples" / "epoch_0001.png").is_file()
    assert json.loads((versions[0] / "config.json").read_text())["devices"] == 2
    assert not list(Path(tmp_path / "home" / "work").iterdir())


RESUME = """
import json
import numpy as np
from ganzoo.cards import builtin_cards
from ganzoo.protocols import TrainConfig
from ganzoo_keras.backend import create_backend

# batch norm in the generator, combined steps
recipe = {c.family: c for c in builtin_cards()}["mlp"].recipe("seed002")
images = np.random.default_rng(0).integers(0, 256, (256, 28, 28, 1), dtype=np.uint8)
config = TrainConfig(model_id="mlp-keras", recipe="seed002", dataset="random", batch_size=32,
                     seed=5, device="cpu", max_steps=4, devices=2)

def trainer():
    return create_backend(None).create_trainer(recipe, config, images)

straight = trainer()
straight.run_steps(0, 0, 2)
halfway = straight.state()
straight.run_steps(0, 2, 2)
again = trainer()
again.run_steps(0, 0, 2)
again.run_steps(0, 2, 2)
resumed = trainer()
resumed.load_state(halfway)
resumed.run_steps(0, 2, 2)
a, b, c = straight.state(), again.state(), resumed.state()
print(json.dumps({"rerun": [k for k in a if not np.array_equal(a[k], b[k])],
                  "resumed": [k for k in a if not np.array_equal(a[k], c[k])]}))
"""


def test_distributed_runs_are_deterministic_and_resume_exactly(tmp_path):
    r = run_python(RESUME, tmp_path)
    assert r == {"rerun": [], "resumed": []}
