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
    card = cards[family]
    recipe = card.recipe(name)
    config = TrainConfig(model_id=f"{family}-keras", recipe=name, dataset="random",
                         batch_size=32, seed=5, device="cpu", max_steps=steps, devices=2)
    trainer = create_backend(None).create_trainer(card, recipe, config, images)
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
import json
import numpy as np
from ganzoo_keras.optimizers import FusedAdam
from ganzoo_keras.runtime import keras, mirrored_strategy, tf

strategy = mirrored_strategy(2, "cpu")
x = tf.constant(np.random.default_rng(0).normal(size=(8, 4)).astype("float32"))

def build(scope):
    with scope:
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                                  keras.layers.Dense(1)])
        optimizer = FusedAdam(learning_rate=0.1)
        optimizer.build(model.trainable_variables)
    return model, optimizer

def step(model, optimizer, batch, scale):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(batch))) * scale
    variables = model.trainable_variables
    optimizer.apply(tape.gradient(loss, variables), variables)

mirrored, m_opt = build(strategy.scope())
single, s_opt = build(tf.distribute.get_strategy().scope())

@tf.function
def distributed():
    def shard():
        i = tf.distribute.get_replica_context().replica_id_in_sync_group
        step(mirrored, m_opt, x[i * 4:(i + 1) * 4], 0.5)
    strategy.run(shard)

@tf.function
def whole():
    step(single, s_opt, x, 1.0)

for _ in range(3):
    distributed()
    whole()
out = {"max_diff": 0.0, "replicas_equal": True, "iterations": int(m_opt.iterations.numpy())}
for a, b in zip(single.weights, mirrored.weights, strict=True):
    values = [v.numpy() for v in b.value.values]
    out["max_diff"] = max(out["max_diff"], float(np.abs(a.numpy() - values[0]).max()))
    out["replicas_equal"] &= all(np.array_equal(values[0], v) for v in values[1:])
print(json.dumps(out))
"""


def test_replica_update_equals_the_single_device_update_on_the_whole_batch(tmp_path):
    # Keras' optimiser sums the replicas' gradients: losses scaled by 1/N (as GanSteps does)
    # give the whole batch's gradient, so both runs take the same three Adam steps.
    r = run_python(EQUIVALENCE, tmp_path)
    assert r["replicas_equal"]
    assert r["iterations"] == 3
    assert r["max_diff"] < 1e-6


def test_uneven_batch_is_refused(tmp_path):
    code = """
    import json
    import numpy as np
    from ganzoo.cards import builtin_cards
    from ganzoo.errors import UsageError
    from ganzoo.protocols import TrainConfig
    from ganzoo_keras.backend import create_backend

    card = {c.family: c for c in builtin_cards()}["mlp"]
    images = np.zeros((64, 28, 28, 1), np.uint8)
    config = TrainConfig(model_id="mlp-keras", recipe="seed004", dataset="random",
                         batch_size=31, device="cpu", devices=2)
    try:
        create_backend(None).create_trainer(card, card.recipe("seed004"), config, images)
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

card = {c.family: c for c in builtin_cards()}["mlp"]
recipe = card.recipe("seed002")  # batch norm in the generator, combined steps
images = np.random.default_rng(0).integers(0, 256, (256, 28, 28, 1), dtype=np.uint8)
config = TrainConfig(model_id="mlp-keras", recipe="seed002", dataset="random", batch_size=32,
                     seed=5, device="cpu", max_steps=4, devices=2)

def trainer():
    return create_backend(None).create_trainer(card, recipe, config, images)

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
