"""The resume rule: the saved run's config wins; a differing value given again is refused.

``ganzoo train MODEL --resume MODEL@N --epochs E`` continues the saved run: recipe, data,
split, batch size, seed, amp and devices are the saved ones, and writing one of them on the
command line with another value is a usage error (exit 2) naming the option and the saved
value. Only ``--epochs`` (the new total) and ``--max-steps`` (a new cap per epoch) change it.
Driven through the real CLI on the numpy backend of fakes.py.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from fakes import FakeDataset, FakePlugin

import ganzoo.data
from ganzoo.catalog import Catalog
from ganzoo.cli import train_cmd
from ganzoo.errors import UsageError
from ganzoo.protocols import TrainConfig
from ganzoo.store import RunStore
from ganzoo.training.loop import resumed_config

# Non-default everything: seed004 (not the card's default seed002), batch 16 (not 32 or 64),
# seed 7 (not 0), the test split and mnist (not the recipe's default split).
FIRST = ["train", "mlp-fake", "--recipe", "seed004", "--batch-size", "16", "--seed", "7",
         "--data", "mnist", "--split", "test", "--epochs", "1", "--max-steps", "3",
         "--no-progress"]
SAVED = {"recipe": "seed004", "batch_size": 16, "seed": 7, "dataset": "mnist",
         "split": "test", "max_steps": 3}


@pytest.fixture
def home(tmp_path, monkeypatch, cli):
    """A registry with mlp-fake@1 trained by FIRST; returns its RunStore."""
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(),
                        raising=False)
    catalog = Catalog.load(entry_points=False, extra=[("fake", FakePlugin())])
    monkeypatch.setattr(train_cmd, "load_catalog", lambda: catalog)
    result = cli(*FIRST)
    assert result.exit_code == 0, result.output
    return RunStore(tmp_path / "home")


def _config(store: RunStore, ref: str) -> dict:
    return json.loads((store.resolve(ref).path / "config.json").read_text())


def test_resume_keeps_the_saved_runs_settings(home, cli):
    result = cli("train", "mlp-fake", "--resume", "mlp-fake@1", "--epochs", "2",
                 "--no-progress")
    assert result.exit_code == 0, result.output
    config = _config(home, "mlp-fake@2")
    # Taking the new command line's config would give seed002, batch 32, seed 0, fashion/train.
    assert {k: config[k] for k in SAVED} == SAVED
    assert config["epochs"] == 2
    record = home.resolve("mlp-fake@2")
    assert record.parent == "mlp-fake@1" and record.steps == 2 * 3  # the saved cap of 3


@pytest.mark.parametrize(("option", "value", "saved"), [
    ("--seed", "8", "7"), ("--batch-size", "32", "16"), ("--recipe", "seed002", "seed004"),
    ("--data", "fashion", "mnist"), ("--split", "train", "test"), ("--amp", None, "false"),
    ("--devices", "2", "1"),  # refused before any rank is launched
])
def test_a_differing_run_setting_is_refused_naming_the_saved_value(home, cli, option, value,
                                                                   saved):
    args = [option] if value is None else [option, value]
    result = cli("train", "mlp-fake", "--resume", "mlp-fake@1", "--epochs", "2",
                 "--no-progress", *args)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"{option} {value or 'true'} differs from the resumed run's {saved}" in message
    assert [v.ref for v in home.list("mlp-fake")] == ["mlp-fake@1"]  # nothing trained


def test_the_same_values_given_again_are_accepted(home, cli):
    result = cli("train", "mlp-fake", "--resume", "mlp-fake@1", "--epochs", "2",
                 "--no-progress", "--recipe", "seed004", "--seed", "7", "--batch-size", "16",
                 "--data", "mnist", "--split", "test")
    assert result.exit_code == 0, result.output
    assert {k: _config(home, "mlp-fake@2")[k] for k in SAVED} == SAVED


def test_max_steps_on_resume_is_the_new_cap(home, cli):
    result = cli("train", "mlp-fake", "--resume", "mlp-fake@1", "--epochs", "2",
                 "--max-steps", "5", "--no-progress")
    assert result.exit_code == 0, result.output
    assert _config(home, "mlp-fake@2")["max_steps"] == 5
    assert home.resolve("mlp-fake@2").steps == 3 + 5


def test_max_steps_on_resume_caps_a_run_that_had_none(home, cli):
    # The reported bug: --max-steps was dropped (config max_steps null, the full epoch ran).
    first = cli("train", "mlp-fake", "--epochs", "1", "--no-progress")  # 256 // 32 = 8 steps
    assert first.exit_code == 0, first.output
    assert _config(home, "mlp-fake@2")["max_steps"] is None
    result = cli("train", "mlp-fake", "--resume", "mlp-fake@2", "--epochs", "2",
                 "--max-steps", "5", "--no-progress")
    assert result.exit_code == 0, result.output
    assert _config(home, "mlp-fake@3")["max_steps"] == 5
    assert home.resolve("mlp-fake@3").steps == 8 + 5


def test_resumed_config_without_a_command_line():
    saved = TrainConfig(model_id="m", recipe="seed004", dataset="mnist", batch_size=16, seed=7,
                        max_steps=3, epochs=1, compile=True)
    asked = TrainConfig(model_id="m", recipe="seed002", dataset="fashion", epochs=4,
                        log_every=5, device="cpu")
    got = resumed_config(saved, asked)
    assert got == TrainConfig(model_id="m", recipe="seed004", dataset="mnist", batch_size=16,
                              seed=7, max_steps=3, epochs=4, log_every=5, device="cpu",
                              compile=True)
    assert resumed_config(saved, TrainConfig(model_id="m", recipe="x", dataset="y",
                                             max_steps=9)).max_steps == 9
    with pytest.raises(UsageError, match=r"--batch-size 128 differs .* 16"):
        resumed_config(saved, asked, given={"batch_size"})
    with pytest.raises(UsageError, match=r"--devices 2 differs from the resumed run's 1"):
        resumed_config(saved, replace(asked, devices=2), given={"devices", "epochs"})
    assert resumed_config(saved, replace(asked, devices=1), given={"devices"}).devices == 1
