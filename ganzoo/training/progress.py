"""The live progress display of a training run (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def format_metrics(metrics: dict[str, float], images_per_s: float | None = None) -> str:
    """``D 1.23  G 0.89  D(x) 0.51  D(G(z)) 0.45  1,234 img/s`` (missing values left out)."""
    parts = []
    for key, label in (("d_loss", "D"), ("g_loss", "G"), ("d_real", "D(x)"),
                       ("d_fake", "D(G(z))")):
        if key in metrics:
            parts.append(f"{label} {metrics[key]:.3f}")
    if images_per_s:
        parts.append(f"{images_per_s:,.0f} img/s")
    return "  ".join(parts)


def training_progress(console: Console, enabled: bool = True) -> Progress:
    """Epoch, step bar, losses, D(x), D(G(z)), images/s, elapsed and ETA."""
    return Progress(
        TextColumn("[bold cyan]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )
