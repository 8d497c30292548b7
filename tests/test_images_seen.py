"""Images seen and img/s count the real images a step draws: k batches when a recipe makes k
discriminator updates per generator update (WGAN-GP: 5), one batch otherwise."""

from __future__ import annotations

import json
import os

import pytest
from fakes import FakeDataset
from rich.console import Console

import ganzoo.data
from ganzoo.catalog import Catalog
from ganzoo.hookspecs import hookimpl
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore
from ganzoo.training.loop import train


class FakeFamilies:
    @hookimpl
    def register_models(self, register):
        for family in ("mlp", "wgangp"):
            register(family=family, backend="fake", factory="fakes:create_backend")


@pytest.mark.parametrize(("model", "recipe", "batch", "per_step"), [
    ("mlp-fake", "seed002", 32, 32),
    ("wgangp-fake", "fashion", 50, 250),  # 5 critic batches of 50 per step
])
def test_images_seen_count_every_batch_a_step_draws(tmp_path, monkeypatch, model, recipe,
                                                    batch, per_step):
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(),
                        raising=False)
    catalog = Catalog.load(entry_points=False, extra=[("fake", FakeFamilies())])
    config = TrainConfig(model_id=model, recipe=recipe, dataset="fashion", epochs=1,
                         batch_size=batch, seed=0, log_every=2)
    with open(os.devnull, "w") as sink:
        record = train(catalog, config, RunStore(tmp_path / "home"),
                       console=Console(file=sink), show_progress=False)
    result = json.loads((record.path / "result.json").read_text())
    assert record.steps == 256 // batch
    assert result["images_seen"] == record.steps * per_step
    assert record.images_per_s == pytest.approx(result["images_seen"] / result["train_time_s"])
    steps = [json.loads(line) for line in (record.path / "metrics.jsonl").read_text()
             .splitlines() if '"kind": "step"' in line]
    assert [s["images_seen"] for s in steps] == [s["step"] * per_step for s in steps]
