"""Capabilities and launching behind the backend: the core refuses, in one line and before
launching anything, what a backend does not declare; it enforces max_steps itself; a
backend's rank() decides which process registers."""

from __future__ import annotations

import os

import pytest
from fakes import FakeBackend, FakeDataset, FakeTrainer
from rich.console import Console

import ganzoo.data
from ganzoo.catalog import Catalog
from ganzoo.errors import PluginError, UsageError
from ganzoo.hookspecs import hookimpl
from ganzoo.launching import capabilities_of, check_supported, rank_of
from ganzoo.protocols import Capabilities, TrainConfig
from ganzoo.store import RunStore
from ganzoo.training.loop import train

LAUNCHES: list[tuple[int, list[str]]] = []


class SingleDeviceBackend(FakeBackend):
    """Declares nothing, yet has a launch(): the core must not call it for --devices 2."""

    def launch(self, devices: int, argv: list[str]) -> int:
        LAUNCHES.append((devices, argv))
        return 0


class GreedyTrainer(FakeTrainer):
    """Ignores max_steps: always offers the whole epoch."""

    def __init__(self, recipe, config, images) -> None:
        super().__init__(recipe, config, images)
        self.steps_per_epoch = len(images) // config.batch_size
        self.asked: list[tuple[int, int, int]] = []

    def run_steps(self, epoch: int, start: int, count: int) -> dict[str, float]:
        self.asked.append((epoch, start, count))
        return super().run_steps(epoch, start, count)


TRAINERS: list[GreedyTrainer] = []


class GreedyBackend(FakeBackend):
    capabilities = Capabilities(amp=True)

    def create_trainer(self, recipe, config, images):
        TRAINERS.append(GreedyTrainer(recipe, config, images))
        return TRAINERS[-1]


class SecondRankBackend(FakeBackend):
    capabilities = Capabilities(multi_device=True)

    def launch(self, devices: int, argv: list[str]) -> int:
        return 0

    def rank(self) -> int:
        return 1


class InProcessBackend(FakeBackend):
    """Several devices in this one process, as Keras' MirroredStrategy: launch() returns None."""

    capabilities = Capabilities(multi_device=True)

    def launch(self, devices: int, argv: list[str]) -> None:
        LAUNCHES.append((devices, argv))
        return None


def create_inprocess(spec):
    return InProcessBackend(spec)


def create_single(spec):
    return SingleDeviceBackend(spec)


def create_greedy(spec):
    return GreedyBackend(spec)


def create_second_rank(spec):
    return SecondRankBackend(spec)


class Plugin:
    @hookimpl
    def register_models(self, register):
        register(family="mlp", backend="single", factory="test_capabilities:create_single")
        register(family="mlp", backend="greedy", factory="test_capabilities:create_greedy")
        register(family="mlp", backend="rankone", factory="test_capabilities:create_second_rank")
        register(family="mlp", backend="inprocess", factory="test_capabilities:create_inprocess")


@pytest.fixture
def catalog(monkeypatch, tmp_path):
    monkeypatch.setattr(ganzoo.data, "load_dataset", lambda *a, **k: FakeDataset(), raising=False)
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    LAUNCHES.clear()
    TRAINERS.clear()
    return Catalog.load(entry_points=False, extra=[("caps", Plugin())])


def _config(model_id: str, **kw) -> TrainConfig:
    return TrainConfig(**{"model_id": model_id, "recipe": "seed002", "dataset": "fashion",
                          "epochs": 2, "batch_size": 32, "log_every": 5, **kw})


def test_devices_on_a_single_device_backend_fail_in_one_line_before_launching(
        catalog, cli, monkeypatch, tmp_path):
    from ganzoo.cli import train_cmd

    monkeypatch.setattr(train_cmd, "load_catalog", lambda: catalog)
    result = cli("train", "mlp-single", "--recipe", "seed002", "--devices", "2",
                 "--no-progress")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "cannot train on several devices" in lines[0] and "--devices 2" in lines[0]
    assert LAUNCHES == []  # refused before the backend's launch was ever called
    assert not (tmp_path / "home" / "models").exists()


@pytest.mark.parametrize(("asked", "words"), [
    ({"devices": 2}, "cannot train on several devices"),
    ({"device": "cuda"}, "cannot run on CUDA"),
    ({"amp": True}, "drop --amp"),
    ({"compile": True}, "drop --compile"),
])
def test_what_is_not_declared_is_refused(asked, words):
    with pytest.raises(UsageError, match=words):
        check_supported(FakeBackend(None), _config("mlp-fake", **asked))
    check_supported(FakeBackend(None), _config("mlp-fake", device="cpu"))  # always fine


def test_declared_capabilities_pass_and_may_be_a_method():
    class Backend:
        def capabilities(self):
            return Capabilities(multi_device=True, cuda=True, amp=True, compile=True)

        def launch(self, devices, argv):
            return None

    check_supported(Backend(), _config("x", devices=4, device="cuda", amp=True, compile=True))
    assert capabilities_of(Backend()).supported() == ["multi_device", "cuda", "amp", "compile"]
    assert capabilities_of(FakeBackend(None)) == Capabilities()
    assert rank_of(FakeBackend(None)) is None


def test_multi_device_without_launch_and_a_wrong_declaration_are_plugin_errors():
    class NoLaunch:
        capabilities = Capabilities(multi_device=True)

    class Wrong:
        capabilities = ("multi_device",)

    with pytest.raises(PluginError, match="no launch"):
        check_supported(NoLaunch(), _config("x", devices=2))
    with pytest.raises(PluginError, match=r"not ganzoo\.protocols\.Capabilities"):
        check_supported(Wrong(), _config("x"))


def _quiet() -> Console:
    return Console(file=open(os.devnull, "w"))


def test_the_shell_enforces_max_steps_on_a_trainer_that_ignores_it(catalog, tmp_path):
    record = train(catalog, _config("mlp-greedy", max_steps=3), RunStore(tmp_path / "home"),
                   console=_quiet(), show_progress=False)
    assert TRAINERS[-1].steps_per_epoch == 256 // 32  # the trainer offered all 8 steps
    assert record.steps == 2 * 3 and record.status == "complete"
    assert sum(count for _, _, count in TRAINERS[-1].asked) == 6
    assert max(start + count for _, start, count in TRAINERS[-1].asked) == 3


def test_the_python_api_way_in_checks_capabilities_too(catalog, tmp_path):
    with pytest.raises(UsageError, match="drop --compile"):
        train(catalog, _config("mlp-greedy", compile=True), RunStore(tmp_path / "home"),
              console=_quiet(), show_progress=False)
    assert TRAINERS == []  # refused before a trainer was built


def test_a_process_whose_backend_says_rank_1_trains_but_does_not_register(catalog, tmp_path):
    store = RunStore(tmp_path / "home")
    record = train(catalog, _config("mlp-rankone", devices=2), store, console=_quiet(),
                   show_progress=False)
    assert record is None
    assert not list((tmp_path / "home" / "models").glob("mlp-rankone/*"))


def test_the_core_holds_no_backend_code_paths():
    """Backend knowledge lives in the plugins: the core imports no framework or backend plugin
    (ganzoo/frameworks.py, the safe import order, aside), reads no launcher's RANK and has no
    branch on a backend's name."""
    import re
    from pathlib import Path

    import ganzoo

    pattern = re.compile(r"^\s*(from|import) (ganzoo_torch|ganzoo_keras|torch|tensorflow|keras)"
                         r"\b|['\"]RANK['\"]|backend\s*[!=]=\s*['\"](torch|keras)['\"]",
                         re.MULTILINE)
    root = Path(ganzoo.__file__).parent
    found = [f"{path.relative_to(root)}: {match.group(0).strip()}"
             for path in sorted(root.rglob("*.py")) if path.name != "frameworks.py"
             for match in pattern.finditer(path.read_text(encoding="utf-8"))]
    assert not found, found


def test_launch_gets_the_devices_and_a_resumed_run_keeps_its_saved_devices(catalog, cli,
                                                                           monkeypatch, tmp_path):
    from ganzoo.cli import train_cmd

    monkeypatch.setattr(train_cmd, "load_catalog", lambda: catalog)
    first = cli("train", "mlp-inprocess", "--recipe", "seed002", "--devices", "2",
                "--epochs", "1", "--max-steps", "2", "--no-progress")
    assert first.exit_code == 0, first.output
    assert [devices for devices, _ in LAUNCHES] == [2]  # argv: this process's sys.argv[1:]
    resumed = cli("train", "mlp-inprocess", "--resume", "mlp-inprocess@1", "--epochs", "2",
                  "--no-progress")  # no --devices: the saved run's 2 devices
    assert resumed.exit_code == 0, resumed.output
    assert [devices for devices, _ in LAUNCHES] == [2, 2]
