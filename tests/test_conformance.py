"""ganzoo.testing.check_model: every model of the catalog and the example plugin conform, and
deliberately broken trainers fail with a message naming the broken property."""

from __future__ import annotations

import importlib.util
import random
import re
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from test_plugins import EXAMPLE, write_dist

from ganzoo.catalog import Catalog
from ganzoo.errors import PluginError
from ganzoo.hookspecs import hookimpl
from ganzoo.testing import CHECKS, ConformanceError, check_model, model_ids

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytest_plugins = ["ganzoo.testing.pytest_plugin"]

# Parametrised over the catalog: a family a plugin or a card adds is checked without an edit.
BUILTIN = model_ids(catalog=Catalog.load(plugins=["torch", "keras"]))


def _marks(model_id: str) -> list[pytest.MarkDecorator]:
    backend = model_id.rsplit("-", 1)[1]
    return [pytest.mark.slow, *([getattr(pytest.mark, backend)]
                                if backend in ("torch", "keras") else [])]


@pytest.mark.parametrize("model_id", [pytest.param(m, marks=_marks(m)) for m in BUILTIN])
def test_every_builtin_model_conforms(model_id, builtin_plugins, ganzoo_check_model):
    needs = {"torch": "torch", "keras": "tensorflow"}.get(model_id.rsplit("-", 1)[1])
    if needs and importlib.util.find_spec(needs) is None:  # never import tensorflow here:
        pytest.skip(f"{needs} is not installed")  # the backend imports torch first
    report = ganzoo_check_model(model_id)
    assert report.passed == [prop for prop, _ in CHECKS.values()]


@pytest.mark.slow
@pytest.mark.torch
def test_the_example_plugin_conforms(tmp_path, monkeypatch, ganzoo_check_model):
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE / "src" / "ganzoo_plugin_example", site / "ganzoo_plugin_example",
                    ignore=shutil.ignore_patterns("__pycache__"))
    write_dist(site, project["name"], project["version"], project["entry-points"]["ganzoo"])
    monkeypatch.syspath_prepend(str(site))  # the listing check's fresh process sees it too
    monkeypatch.setenv("GANZOO_PLUGINS", "torch,example")
    report = ganzoo_check_model("tinymlp-torch")
    assert len(report.passed) == len(CHECKS), report
    for name in [m for m in sys.modules if m.startswith("ganzoo_plugin_example")]:
        del sys.modules[name]


# -- deliberately broken trainers -------------------------------------------------------------

def _torch_backend():
    pytest.importorskip("torch")
    from ganzoo_torch.backend import TorchBackend

    return TorchBackend


def create_seedless(spec):
    class Seedless(_torch_backend()):
        """Ignores config.seed: every trainer draws its own."""

        def create_trainer(self, recipe, config, images, labels=None):
            return super().create_trainer(recipe, replace(config, seed=random.randrange(1 << 30)),
                                          images, labels)

    return Seedless()


def create_fixedseed(spec):
    class FixedSeed(_torch_backend()):
        """Ignores config.seed: every trainer uses seed 7."""

        def create_trainer(self, recipe, config, images, labels=None):
            return super().create_trainer(recipe, replace(config, seed=7), images, labels)

    return FixedSeed()


def create_forgetful(spec):
    class Forgetful(_torch_backend()):
        """Its load_state drops the optimiser slots (a resumed Adam starts from scratch)."""

        def create_trainer(self, recipe, config, images, labels=None):
            trainer = super().create_trainer(recipe, config, images, labels)
            load = trainer.load_state
            trainer.load_state = lambda state: load(
                {k: v for k, v in state.items() if not k.startswith("optim.")})
            return trainer

    return Forgetful()


def create_greedy(spec):
    class Greedy(_torch_backend()):
        """Its run_steps ignores ``count`` and runs the rest of the epoch."""

        def create_trainer(self, recipe, config, images, labels=None):
            trainer = super().create_trainer(recipe, config, images, labels)
            run = trainer.run_steps
            trainer.run_steps = lambda epoch, start, count: run(
                epoch, start, trainer.steps_per_epoch - start)
            return trainer

    return Greedy()


def create_oldsig(spec):
    class OldSignature(_torch_backend()):
        """Written to the old protocol: ``create_trainer(card, recipe, config, images)``."""

        def create_trainer(self, card, recipe, config, images, labels=None):
            return super().create_trainer(recipe, config, images, labels)

    return OldSignature()


class BrokenPlugin:
    @hookimpl
    def register_models(self, register):
        for kind in ("seedless", "fixedseed", "forgetful", "greedy", "oldsig"):
            register(family="mlp", backend=kind, factory=f"test_conformance:create_{kind}",
                     requires=("torch",))


@pytest.fixture
def broken_catalog():
    return Catalog.load(plugins=["torch"], extra=[("broken", BrokenPlugin())])


@pytest.mark.torch
@pytest.mark.parametrize(("model_id", "check", "prop", "words"), [
    ("mlp-seedless", "seeded", "seeded runs identical", "differ"),
    ("mlp-fixedseed", "seeded", "seeded runs identical", "the trainer ignores config.seed"),
    ("mlp-forgetful", "round_trip", "state round-trip resumes exactly",
     "the step after load_state(state()) differs"),
    ("mlp-greedy", "max_steps", "max_steps honoured", "run_steps(0, 0, 2) is not two steps"),
])
def test_a_broken_trainer_fails_naming_the_property(broken_catalog, model_id, check, prop,
                                                    words):
    with pytest.raises(ConformanceError) as caught:
        check_model(model_id, catalog=broken_catalog, checks=[check])
    assert isinstance(caught.value, AssertionError)  # pytest shows it as a plain failure
    assert list(caught.value.failures) == [prop]
    assert words in caught.value.failures[prop]
    assert f"{model_id} breaks 1 conformance property:\n- {prop}: " in str(caught.value)


@pytest.mark.torch
def test_the_honest_trainer_passes_the_same_checks(broken_catalog):
    pytest.importorskip("torch")
    report = check_model("mlp-torch", catalog=broken_catalog,
                         checks=["seeded", "round_trip", "canonical", "load_generator"])
    assert report.passed == [CHECKS[c][0] for c in
                             ("seeded", "round_trip", "canonical", "load_generator")]


@pytest.mark.torch
def test_an_old_signature_create_trainer_is_refused_naming_the_fix(broken_catalog):
    pytest.importorskip("torch")
    words = "create_trainer no longer takes the card: drop its first parameter"
    with pytest.raises(PluginError, match=re.escape(words)) as caught:
        check_model("mlp-oldsig", catalog=broken_catalog, checks=["seeded"])
    assert "mlp-oldsig: OldSignature.create_trainer" in str(caught.value)
    # ganzoo train loads backends the same way: the same message, not a TypeError later
    with pytest.raises(PluginError, match=re.escape(words)):
        broken_catalog.model("mlp-oldsig").load_backend()


def test_a_model_a_fresh_process_cannot_see_fails_the_listing_check(broken_catalog):
    words = "listing imports no framework: a fresh process's Catalog.load() does not list it"
    with pytest.raises(ConformanceError, match=re.escape(words)):
        check_model("mlp-seedless", catalog=broken_catalog, checks=["listing"])


def test_unknown_check_ids_are_refused(broken_catalog):
    with pytest.raises(ValueError, match="unknown checks"):
        check_model("mlp-torch", catalog=broken_catalog, checks=["sedeed"])


def test_importing_the_kit_imports_no_framework():
    import subprocess

    code = ("import sys, ganzoo.testing, ganzoo.testing.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'torch', 'tensorflow', 'keras'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parent, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- docs/plugins.md section 9.3: the custom backend on the public builder, as written --------

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def _custom_backend_source() -> str:
    text = DOCS.read_text()
    after = text.split("<!-- custom-backend-example", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


class CustomBackendPlugin:
    @hookimpl
    def register_models(self, register):
        register("mlp", "mytorch", "my_backend:create_backend", requires=("torch",))


@pytest.mark.slow
@pytest.mark.torch
def test_the_documented_custom_backend_conforms(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    (tmp_path / "my_backend.py").write_text(_custom_backend_source())
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_backend", raising=False)
    catalog = Catalog.load(plugins=["torch"], extra=[("mine", CustomBackendPlugin())])
    try:
        report = check_model("mlp-mytorch", catalog=catalog, skip=["listing"],
                             workdir=tmp_path / "work")
        assert len(report.passed) == len(CHECKS) - 1
        from ganzoo.errors import UsageError
        from ganzoo.launching import check_supported
        from ganzoo.protocols import TrainConfig

        backend = catalog.model("mlp-mytorch").load_backend()
        with pytest.raises(UsageError, match="cannot train on several devices"):
            check_supported(backend, TrainConfig("mlp-mytorch", "seed002", "fashion", devices=2))
    finally:
        sys.modules.pop("my_backend", None)
