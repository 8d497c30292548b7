"""Optional TensorBoard logging (scalars and sample grids) without importing a framework.

Writes event files with the ``tensorboard`` package's own writer and protos, so it works the
same for torch and Keras runs and never imports either framework.
"""

from __future__ import annotations

import io
import sys
import time
import types
from pathlib import Path

import numpy as np

from ganzoo.errors import UsageError
from ganzoo.images import make_grid


def _without_tensorflow() -> None:
    """Make tensorboard's file I/O use its own stub, never ``import tensorflow``.

    tensorboard imports TensorFlow lazily, on the first event written, when it is installed:
    seconds of start-up and its log lines in a torch run, and, before torchvision, a crashed
    process (ganzoo.frameworks). Its switch is an importable
    ``tensorboard.compat.notf`` module, which the writer then finds.
    """
    name = "tensorboard.compat.notf"
    sys.modules.setdefault(name, types.ModuleType(name))


class TensorBoardLog:
    """Scalars and images for one run, in ``logdir``."""

    def __init__(self, logdir: Path) -> None:
        _without_tensorflow()
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError:
            raise UsageError(
                "--tensorboard needs the tensorboard package: pip install 'ganzoo[tensorboard]'"
            ) from None
        self._event = event_pb2.Event
        self._summary = summary_pb2.Summary
        Path(logdir).mkdir(parents=True, exist_ok=True)
        self._writer = EventFileWriter(str(logdir))

    def _write(self, step: int, value: object) -> None:
        event = self._event(wall_time=time.time(), step=step,
                            summary=self._summary(value=[value]))
        self._writer.add_event(event)

    def scalars(self, step: int, metrics: dict[str, float], prefix: str = "train/") -> None:
        for key, number in metrics.items():
            self._write(step, self._summary.Value(tag=prefix + key, simple_value=float(number)))

    def image(self, step: int, tag: str, images: np.ndarray) -> None:
        """A grid of (N, H, W, C) images in [-1, 1]."""
        from PIL import Image

        grid = make_grid(images)
        picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        encoded = self._summary.Image(height=grid.shape[0], width=grid.shape[1],
                                      colorspace=grid.shape[2],
                                      encoded_image_string=buffer.getvalue())
        self._write(step, self._summary.Value(tag=tag, image=encoded))

    def close(self) -> None:
        self._writer.close()
