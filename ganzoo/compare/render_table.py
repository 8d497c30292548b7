"""The comparison as a rich table for the terminal."""

from __future__ import annotations

from rich.table import Table

from ganzoo.compare.cells import floor_cells, floor_label, row_cells
from ganzoo.compare.report import BEST, COLUMNS, CompareReport
from ganzoo.metrics.protocol import describe


def rich_table(report: CompareReport) -> Table:
    """The comparison as a rich table, the best of each column marked."""
    labels = report.protocol_labels()
    caption = f"{BEST} best in its column. Real floor: {(report.floor or {}).get('method', '—')}."
    if report.comparable and report.protocol:
        caption += f"\nProtocol: {describe(report.protocol)}."
    elif not report.comparable:
        caption += ("\n[yellow]Rows were measured under different protocols "
                    f"({', '.join(labels.values())}): metric columns are not ranked.[/]")
    table = Table(title=f"ganzoo compare on {report.dataset}", title_justify="left",
                  caption=caption, caption_justify="left")
    table.add_column("model")
    table.add_column("backend")
    for col in COLUMNS:
        table.add_column(col.title, justify="right")
    if not report.comparable:
        table.add_column("protocol")
    for c in report.contenders:
        name = c.record.ref + ("" if c.record.status == "complete" else f" ({c.record.status})")
        row = [name, c.record.backend,
               *row_cells(report, c, lambda t: f"[bold green]{t} {BEST}[/]")]
        if not report.comparable:
            row.append(labels.get(c.evaluation.key, "—") if c.evaluation else "—")
        table.add_row(*row)
    if report.floor and report.comparable:
        table.add_row(floor_label(report), "", *floor_cells(report), style="dim")
    return table


