"""Issue 12's "done when": a third-party plugin of about 40 lines of Python plus a card adds a
new loss and a family, installed through an entry point; the built-in torch and Keras trainers
train it, and list, info, train, export and sample work on it from the command line."""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
from test_plugins import write_dist

PLUGIN = '''"""ganzoo_sqhinge: the squared-hinge loss, and the sqhinge family trained with it."""

from pathlib import Path

from ganzoo.hookspecs import hookimpl

NAME = "squared_hinge"


class TorchLoss:  # the raw discriminator output -> a mean over the batch
    def real(self, out):
        return (1 - out.float()).clamp(min=0).square().mean()

    def fake(self, out):
        return (1 + out.float()).clamp(min=0).square().mean()

    def generator(self, out):
        return -out.float().mean()


class KerasLoss:
    def real(self, out):
        from ganzoo_keras.runtime import tf
        return tf.reduce_mean(tf.square(tf.nn.relu(1 - tf.cast(out, tf.float32))))

    def fake(self, out):
        from ganzoo_keras.runtime import tf
        return tf.reduce_mean(tf.square(tf.nn.relu(1 + tf.cast(out, tf.float32))))

    def generator(self, out):
        from ganzoo_keras.runtime import tf
        return -tf.reduce_mean(tf.cast(out, tf.float32))


@hookimpl
def register_losses(register):
    register(NAME, summary="Squared hinge.", output="score", generator="-D(G(z))",
             discriminator="relu(1 - D(x))^2 + relu(1 + D(G(z)))^2")
    register(NAME, backend="torch", implementation=f"{__name__}:TorchLoss")
    register(NAME, backend="keras", implementation=f"{__name__}:KerasLoss")


@hookimpl
def register_cards(register):
    register(Path(__file__).with_name("sqhinge.toml"))


@hookimpl
def register_models(register):
    register("sqhinge", "torch", "ganzoo_torch.backend:create_backend", ("torch",))
    register("sqhinge", "keras", "ganzoo_keras.backend:create_backend", ("tensorflow", "keras"))
'''

CARD = '''family = "sqhinge"
title = "Dense GAN with a squared-hinge loss (third-party plugin)"
description = "A tiny dense GAN for 28x28x1 images, trained with the plugin's own loss."
default_recipe = "fashion"
provenance = { seed_documents = [], source = "tests/test_third_party_plugin.py", inferred = [], departures = [] }

[recipes.fashion]
description = "Fashion-MNIST, batch 32, Adam(2e-4, beta1 0.5), normal noise."
seed_document = "none"
dataset = "fashion"
latent_dim = 16
noise = "normal"
batch_size = 32
epochs = 1
loss = "squared_hinge"
step = "alternating"
optimizer.generator = { name = "adam", lr = 2e-4, beta1 = 0.5 }
optimizer.discriminator = { name = "adam", lr = 2e-4, beta1 = 0.5 }
expected_params = { generator_trainable = 26416, generator_non_trainable = 0, discriminator_trainable = 25153, discriminator_non_trainable = 0 }
generator.layers = [{ type = "dense", units = 32 }, { type = "leaky_relu", slope = 0.2 }, { type = "dense", units = 784 }, { type = "tanh" }, { type = "reshape", shape = [28, 28, 1] }]
discriminator.layers = [{ type = "flatten" }, { type = "dense", units = 32 }, { type = "leaky_relu", slope = 0.2 }, { type = "dense", units = 1 }]
'''  # noqa: E501

PLUGINS = "torch,keras,sqhinge"


def test_the_plugin_is_small():
    code = [line for line in PLUGIN.splitlines() if line.strip()]
    assert len(code) <= 40, len(code)


@pytest.fixture
def sqhinge_site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "ganzoo_sqhinge").mkdir(parents=True)
    (site / "ganzoo_sqhinge" / "__init__.py").write_text(PLUGIN)
    (site / "ganzoo_sqhinge" / "sqhinge.toml").write_text(CARD)
    write_dist(site, "ganzoo-sqhinge", "0.1.0", {"sqhinge": "ganzoo_sqhinge"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("GANZOO_PLUGINS", PLUGINS)
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    yield site
    sys.modules.pop("ganzoo_sqhinge", None)


@pytest.fixture
def loss_calls(sqhinge_site, monkeypatch):
    """Count calls of the plugin's loss methods: proof that the built-in trainers used them."""
    module = importlib.import_module("ganzoo_sqhinge")
    calls: dict[str, int] = {"torch": 0, "keras": 0}
    for backend, cls in (("torch", module.TorchLoss), ("keras", module.KerasLoss)):
        for method in ("real", "fake", "generator"):
            original = getattr(cls, method)

            def counted(self, out, _original=original, _backend=backend):
                calls[_backend] += 1
                return _original(self, out)

            monkeypatch.setattr(cls, method, counted)
    return calls


def _steps(home: Path, model_id: str) -> list[dict]:
    log = home / "models" / model_id / "1" / "metrics.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return [r for r in rows if r["kind"] == "step"]


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.keras
def test_a_forty_line_plugin_trains_on_both_builtin_trainers(sqhinge_site, loss_calls, cli,
                                                             tmp_path):
    for module in ("torch", "tensorflow"):  # not importorskip: tensorflow must come after torch
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    home = tmp_path / "home"
    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    assert "sqhinge-torch" in listed.output and "sqhinge-keras" in listed.output
    assert "plugin problems" not in listed.output
    assert cli("plugins", "--strict").exit_code == 0

    info = cli("info", "sqhinge-torch")  # the layer summary, built by torch itself
    assert info.exit_code == 0, info.output
    info = cli("info", "sqhinge-keras", "--json")
    assert info.exit_code == 0, info.output
    described = json.loads(info.output)
    assert described["plugin"] == "sqhinge"
    assert described["params"] == {"generator": 26416, "discriminator": 25153}

    for model_id in ("sqhinge-torch", "sqhinge-keras"):
        trained = cli("train", model_id, "--split", "bundled-test", "--max-steps", "3",
                      "--log-every", "1", "--no-progress")
        assert trained.exit_code == 0, trained.output
        assert f"Registered {model_id}@1 (complete)" in trained.output
        steps = _steps(home, model_id)
        assert [r["global_step"] for r in steps] == [1, 2, 3]  # --max-steps 3, one epoch
        assert all(math.isfinite(r[k]) for r in steps for k in ("d_loss", "g_loss"))
    assert loss_calls["torch"] >= 3 * 3 and loss_calls["keras"] >= 3  # keras: traced once

    exported = tmp_path / "sqhinge-torch.safetensors"
    result = cli("export", "sqhinge-torch@1", "-o", str(exported))
    assert result.exit_code == 0, result.output
    assert exported.stat().st_size > 4 * (26416 + 25153)

    for args in (["sqhinge-keras@1"], ["--weights", str(exported), "--backend", "keras"]):
        png = tmp_path / f"samples-{len(args)}.png"
        result = cli("sample", *args, "-n", "16", "-o", str(png))
        assert result.exit_code == 0, result.output
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
