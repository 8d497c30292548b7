"""Loss curves as PNG (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ganzoo.training.metrics_log import read_records


def plot_losses(runs: Sequence[tuple[str, Path]], out: Path, title: str = "") -> Path | None:
    """Plot d_loss and g_loss against images seen for one or several metrics logs.

    ``runs`` is ``[(label, metrics.jsonl path), ...]``; returns None when there is nothing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=False)
    plotted = False
    for label, path in runs:
        records = list(read_records(path, "step"))
        if not records:
            continue
        x = [r["images_seen"] for r in records]
        prefix = f"{label} " if len(runs) > 1 else ""
        axes[0].plot(x, [r["d_loss"] for r in records], label=f"{prefix}D loss")
        axes[0].plot(x, [r["g_loss"] for r in records], label=f"{prefix}G loss")
        axes[1].plot(x, [r["d_real"] for r in records], label=f"{prefix}D(x)")
        axes[1].plot(x, [r["d_fake"] for r in records], label=f"{prefix}D(G(z))")
        plotted = True
    if not plotted:
        plt.close(fig)
        return None
    axes[0].set_title("losses")
    axes[1].set_title("discriminator outputs")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("images seen")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
