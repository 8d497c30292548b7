"""How many steps each ``run_steps`` call takes, and the metrics of a log window.

A call is the unit the loop cannot interrupt: Ctrl-C is honoured between calls. Fast models run
a whole log window (``--log-every`` steps) per call, which keeps host syncs off the hot path.
Slow ones (WGAN-GP on a CPU: seconds per step) would make Ctrl-C wait minutes, so a model whose
window would take longer than :data:`CALL_BUDGET_S` runs one step per call instead; at that
speed a call's sync costs nothing measurable. The log cadence stays ``--log-every`` either way.
"""

from __future__ import annotations

from collections.abc import Callable

CALL_BUDGET_S = 2.0  # the longest a Ctrl-C should wait for the steps in flight
WARMUP_CALLS = 1  # single-step calls not timed (compilation, first-touch allocation)


class Pacer:
    """Chooses each call's step count; decided once per session from one timed step.

    ``agree`` makes the ranks of a multi-process run take the same decision (any slow rank
    makes all single-step), so that they keep making the same calls and collectives.
    """

    def __init__(self, log_every: int, agree: Callable[[bool], bool] = bool,
                 budget_s: float | None = None) -> None:
        self.log_every = log_every
        self.agree = agree
        self.budget_s = CALL_BUDGET_S if budget_s is None else budget_s
        self.calls = 0
        self.single_step: bool | None = None  # None until the timed call

    def count(self, window_left: int) -> int:
        """Steps for the next call, at most ``window_left`` (the log window's and epoch's)."""
        if self.single_step is None or self.single_step:
            return 1
        return window_left

    def observe(self, count: int, elapsed_s: float) -> None:
        """Record a call of ``count`` steps that took ``elapsed_s``."""
        self.calls += 1
        if self.single_step is None and self.calls > WARMUP_CALLS:
            per_step = elapsed_s / count
            self.single_step = self.agree(per_step * self.log_every > self.budget_s)


class Window:
    """Step-weighted sums of the metrics since the last log record (or over an epoch)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.steps = 0
        self.elapsed_s = 0.0

    def add(self, metrics: dict[str, float], count: int, elapsed_s: float) -> None:
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + v * count
        self.steps += count
        self.elapsed_s += elapsed_s

    def means(self) -> dict[str, float]:
        return {k: v / self.steps for k, v in self.sums.items()} if self.steps else {}

    def images_per_s(self, images_per_step: int) -> float:
        return self.steps * images_per_step / self.elapsed_s if self.elapsed_s > 0 else 0.0
