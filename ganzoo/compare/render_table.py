"""The comparison as a rich table for the terminal.

Model refs are never cut: at 80 columns the numbers wrap, and columns the width cannot hold
are left out (named under the table; report.md has them all).
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from ganzoo.compare.cells import UNEQUAL, floor_cells, row_cells
from ganzoo.compare.report import BEST, COLUMNS, CompareReport
from ganzoo.metrics.protocol import describe
from ganzoo.tables import fit_table

MODEL = "model"
# Left out first when the terminal is narrow (the id already names the backend).
DROP_ORDER = ("backend", "params (G+D)", "wall", "img/s", "IS-like ↑", "recall ↑", "density ↑",
              "KID×10³ ↓", "classes ↑", "protocol")


def _caption(report: CompareReport) -> str:
    labels = report.protocol_labels()
    floor = report.floor or {}
    lines = [f"{BEST} best in its column."]
    if floor:
        lines.append(f"Real floor: {escape(str(floor.get('method', '—')))}.")
    protocol = report.protocol or {}
    if str(protocol.get("real_split", "")).startswith("bundled-"):
        lines.append(f"Reference and floor: {protocol.get('dataset')}/"
                     f"{protocol.get('real_split')}, shipped with ganzoo.")
    if report.comparable and report.protocol:
        lines.append(f"Protocol: {escape(describe(report.protocol))}.")
    elif not report.comparable:
        lines.append("[yellow]Rows were measured under different protocols "
                     f"({', '.join(labels.values())}): metric columns are not ranked.[/]")
    if not report.equal_budgets:
        lines.append(f"[yellow]{UNEQUAL} Unequal budgets: the rows saw different numbers of "
                     "training images (see the notes).[/]")
    return "\n".join(lines)


def rich_table(report: CompareReport, width: int | None = None) -> Table:
    """The comparison as a rich table, the best of each column marked.

    With ``width`` (the terminal's), the table is fitted to it: refs whole, numbers wrapped,
    and the columns that still do not fit left out and named in the caption.
    """
    labels = report.protocol_labels()
    table = Table(title=f"ganzoo compare on {report.dataset}", title_justify="left",
                  caption=_caption(report), caption_justify="left")
    table.add_column(MODEL)
    table.add_column("backend")
    for col in COLUMNS:
        table.add_column(col.title, justify="right")
    if not report.comparable:
        table.add_column("protocol")
    for c in report.contenders:
        name = c.record.ref + ("" if c.record.status == "complete" else f"\n({c.record.status})")
        row = [escape(name), c.record.backend,
               *row_cells(report, c, lambda t: f"[bold green]{t} {BEST}[/]",
                          lambda t: f"[yellow]{t} {UNEQUAL}[/]")]
        if not report.comparable:
            row.append(labels.get(c.evaluation.key, "—") if c.evaluation else "—")
        table.add_row(*row)
    if report.floor and report.comparable:
        f = report.floor
        split = f"{f.get('real_split', '?')} {f.get('real_n', 0):,}"
        table.add_row("real floor", split, *floor_cells(report), style="dim")
    if width is not None:
        dropped = fit_table(table, width, whole=(MODEL,), drop=DROP_ORDER)
        if dropped:
            table.caption = (f"{table.caption}\nLeft out at {width} columns: "
                             f"{', '.join(dropped)} (all in report.md).")
    return table
