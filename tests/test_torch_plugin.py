"""The torch plugin as the core reaches it: registered models whose factory builds a backend."""

from __future__ import annotations

import pytest

from ganzoo.catalog import Catalog
from ganzoo.protocols import Backend

pytest.importorskip("torch")

from ganzoo_torch.backend import TorchBackend
from ganzoo_torch.plugin import FAMILIES as TORCH_FAMILIES

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("family", TORCH_FAMILIES)
def test_every_family_loads_the_torch_backend(family):
    spec = Catalog.load(plugins=["torch"]).model(f"{family}-torch")
    backend = spec.load_backend()
    assert isinstance(backend, TorchBackend)
    for method in Backend.__dict__:
        if not method.startswith("_"):
            assert callable(getattr(backend, method)), method
    rows = backend.summary(spec.card.recipe())
    recipe = spec.card.recipe()
    tables = sum(net.label is not None for net in (recipe.generator, recipe.discriminator))
    assert len(rows) == len(recipe.generator.layers) + len(recipe.discriminator.layers) + tables
