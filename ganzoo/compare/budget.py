"""A version's training budget, counted in images seen (steps x batch), so budgets compare.

"1 epoch" says nothing about a run capped with ``--max-steps 10``; the images the generator's
training saw do. The batch size and the cap are read from the version's ``config.json``.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from ganzoo.store import VersionRecord
from ganzoo.store.layout import CONFIG_NAME
from ganzoo.training.config import epochs_text


@dataclass(frozen=True)
class Budget:
    """What a version was trained for: epochs, steps, batch size and the per-epoch step cap."""

    epochs: int
    steps: int
    batch_size: int | None
    max_steps: int | None

    @property
    def images_seen(self) -> int | None:
        """Steps x batch size (None when the batch size is not recorded)."""
        return self.steps * self.batch_size if self.batch_size else None

    def describe(self) -> str:
        """``1 epoch capped at 10 steps: 10 steps x 64 = 640 images``."""
        epochs = epochs_text(self.epochs)
        if self.max_steps:
            epochs += f" capped at {self.max_steps:,} steps"
        if self.images_seen is None:
            return f"{epochs}, {self.steps:,} steps (batch size not recorded)"
        return (f"{epochs}: {self.steps:,} steps x {self.batch_size} = {self.images_seen:,} "
                "images")

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "steps": self.steps, "batch_size": self.batch_size,
                "max_steps": self.max_steps, "images_seen": self.images_seen}


def budget_of(record: VersionRecord) -> Budget:
    """The budget of ``record``, from its index entry and its ``config.json``."""
    config: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        config = json.loads((record.path / CONFIG_NAME).read_text(encoding="utf-8"))
    batch = config.get("batch_size")
    cap = config.get("max_steps")
    return Budget(int(record.epochs), int(record.steps),
                  int(batch) if isinstance(batch, int) and batch > 0 else None,
                  int(cap) if isinstance(cap, int) and cap > 0 else None)


def budgets_agree(budgets: list[Budget]) -> bool:
    """True when every budget saw the same images, give or take one batch.

    Whole epochs of different batch sizes drop different remainders (60,000 images are 468
    batches of 128, 59,904 images): within the largest batch size is the same budget.
    """
    seen = [b.images_seen for b in budgets]
    if any(s is None for s in seen):
        return len({(b.epochs, b.steps, b.max_steps) for b in budgets}) <= 1
    slack = max(b.batch_size or 0 for b in budgets)
    return max(seen) - min(seen) <= slack  # type: ignore[type-var, operator]


def unequal_budgets(budgets: dict[str, Budget]) -> str | None:
    """A note when the versions saw different numbers of images (None when all agree)."""
    if len(budgets) < 2 or budgets_agree(list(budgets.values())):
        return None
    parts = ", ".join(f"{ref} {b.describe()}" for ref, b in budgets.items())
    return (f"Unequal budgets: {parts}. The rows were not trained on the same number of images, "
            "so their metrics do not compare the models at one budget.")
