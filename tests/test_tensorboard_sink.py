"""--tensorboard never imports TensorFlow: tensorboard would, lazily, on the first event."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import ganzoo.data
    from fakes import FakeDataset, FakePlugin
    from ganzoo.catalog import Catalog
    from ganzoo.protocols import TrainConfig
    from ganzoo.store import RunStore
    from ganzoo.training.loop import train
    ganzoo.data.load_dataset = lambda *a, **k: FakeDataset()
    catalog = Catalog.load(entry_points=False, extra=[("fake", FakePlugin())])
    config = TrainConfig(model_id="mlp-fake", recipe="seed002", dataset="fashion", epochs=1,
                         batch_size=32, seed=3, log_every=4)
    train(catalog, config, RunStore({home!r}), show_progress=False, tensorboard={logdir!r})
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator({logdir!r})
    events.Reload()
    print("SCALARS", len(events.Scalars("train/d_loss")))
    print("TENSORFLOW", "tensorflow" in sys.modules)
""")


def test_a_tensorboard_run_writes_events_without_importing_tensorflow(tmp_path):
    pytest.importorskip("tensorboard")
    script = SCRIPT.format(tests=str(TESTS), home=str(tmp_path / "home"),
                           logdir=str(tmp_path / "tb"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "SCALARS 2" in done.stdout  # 8 steps, read back every 4
    assert "TENSORFLOW False" in done.stdout, done.stdout
