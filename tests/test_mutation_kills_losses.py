"""How each backend's ``losses`` module resolves a recipe's loss and penalty (built in, or
registered by a plugin as an object, a class or a ``Loss``), written for the mutants mutation
testing left alive (docs/testing.md).

The recipe is a stand-in with the two attributes the resolvers read (``loss``/``penalty`` and
``objectives``), so each case is exact and fast; the plugin path through the real catalog is
trained end to end in tests/test_losses.py.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import SimpleNamespace

import pytest

from ganzoo.errors import UsageError
from ganzoo.losses import Objectives as CatalogObjectives

torch = pytest.importorskip("torch")  # before tensorflow, always

BACKENDS = ["torch"] + (["keras"] if importlib.util.find_spec("tensorflow") else [])


def losses_of(backend: str):
    return importlib.import_module(f"ganzoo_{backend}.losses")


class Objectives:
    """The catalog's ``implementation`` and ``loss`` lookups over a fixed table; ``resolve``
    is the catalog's own, so the real built-in-else-plugin rule is what these tests check."""

    resolve = CatalogObjectives.resolve

    def __init__(self, implementations=None, outputs=None):
        self.implementations = implementations or {}
        self.outputs = outputs or {}
        self.asked: list[tuple[str, str, str]] = []

    def implementation(self, kind, name, backend):
        self.asked.append((kind, name, backend))
        return self.implementations.get((kind, name, backend))

    def loss(self, name):
        return SimpleNamespace(output=self.outputs[name])


def recipe(loss="bce_logits", penalty=None, objectives=None):
    return SimpleNamespace(loss=loss, penalty=penalty and SimpleNamespace(name=penalty),
                           objectives=objectives or Objectives())


class ObjectLoss:
    def real(self, out):
        return out

    def fake(self, out):
        return -out

    def generator(self, out):
        return out * 2

    def concat(self, out, batch):
        return out[:batch]


class NoConcat:
    real = fake = generator = staticmethod(lambda out: out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_builtin_losses_and_penalties_need_no_plugin(backend):
    mod = losses_of(backend)
    objectives = Objectives()
    for name, loss in mod.LOSSES.items():
        assert mod.loss_for(recipe(name, objectives=objectives)) is loss
    for name, penalty in mod.PENALTIES.items():
        assert mod.penalty_for(recipe(penalty=name, objectives=objectives)) is penalty
    assert mod.penalty_for(recipe()) is None
    assert objectives.asked == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_plugin_loss_object_keeps_its_three_parts_and_its_concat(backend):
    mod = losses_of(backend)
    impl = ObjectLoss()
    objectives = Objectives({("loss", "mine", backend): impl})
    loss = mod.loss_for(recipe("mine", objectives=objectives))
    assert isinstance(loss, mod.Loss)
    assert (loss.real, loss.fake, loss.generator, loss.concat) == (
        impl.real, impl.fake, impl.generator, impl.concat)
    assert objectives.asked == [("loss", "mine", backend)]
    bare = mod.loss_for(recipe("bare", objectives=Objectives({("loss", "bare", backend):
                                                                NoConcat()})))
    assert bare.concat is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_plugin_loss_class_is_instantiated_and_a_loss_passes_through(backend):
    mod = losses_of(backend)
    loss = mod.loss_for(recipe("cls", objectives=Objectives({("loss", "cls", backend):
                                                               ObjectLoss})))
    assert loss.concat is not None and loss.concat.__self__.__class__ is ObjectLoss
    ready = mod.Loss(abs, abs, abs)
    assert mod.loss_for(recipe("ready", objectives=Objectives({("loss", "ready", backend):
                                                                 ready}))) is ready


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_plugin_penalty_is_looked_up_for_this_backend(backend):
    mod = losses_of(backend)
    objectives = Objectives({("penalty", "mine", backend): len})
    assert mod.penalty_for(recipe(penalty="mine", objectives=objectives)) is len
    assert objectives.asked == [("penalty", "mine", backend)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["loss", "penalty"])
def test_a_plugin_objective_without_this_backend_is_a_usage_error_naming_the_fix(backend, kind):
    mod = losses_of(backend)
    other = "keras" if backend == "torch" else "torch"
    objectives = Objectives({(kind, "elsewhere", other): ObjectLoss()})
    r = recipe(**({"loss": "elsewhere"} if kind == "loss" else {"penalty": "elsewhere"}),
               objectives=objectives)
    with pytest.raises(UsageError) as caught:
        (mod.loss_for if kind == "loss" else mod.penalty_for)(r)
    assert str(caught.value) == (
        f"{kind} 'elsewhere' has no {backend} implementation: the plugin that declares it "
        f"must register one with backend=\"{backend}\"")


@pytest.mark.parametrize("backend", BACKENDS)
def test_probabilities_are_reported_only_for_probability_outputs(backend):
    mod = losses_of(backend)
    objectives = Objectives(outputs={"a": "probability", "b": "score"})
    assert mod.reports_probabilities(recipe("a", objectives=objectives)) is True
    assert mod.reports_probabilities(recipe("b", objectives=objectives)) is False
