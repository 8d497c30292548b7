"""Table cells shared by the renderers: a contender's row and the real floor's row."""

from __future__ import annotations

from collections.abc import Callable

from ganzoo.compare.report import COLUMNS, CompareReport, Contender

UNEQUAL = "≠"  # after the images-seen cell of every row when the budgets differ


def row_cells(report: CompareReport, contender: Contender, mark: Callable[[str], str],
              flag: Callable[[str], str] = lambda t: f"{t} {UNEQUAL}") -> list[str]:
    """A contender's cells, one per column: the best ``mark``-ed, unequal budgets ``flag``-ged."""
    values = contender.values()
    cells = []
    for col in COLUMNS:
        v = values[col.key]
        text = "—" if v is None else col.fmt(v)
        if col.key == "images_seen" and not report.equal_budgets:
            text = flag(text)
        cells.append(mark(text) if col.key in contender.best else text)
    return cells


def floor_cells(report: CompareReport) -> list[str]:
    """The real floor's cells: its metrics, nothing under the costs."""
    f = report.floor or {}
    return ["" if col.metric is False else ("—" if f.get(col.key) is None
                                             else col.fmt(f[col.key]))
            for col in COLUMNS]


def floor_label(report: CompareReport) -> str:
    """``real floor (bundled-test 1,000)``: which split and how many real images."""
    f = report.floor or {}
    return f"real floor ({f.get('real_split', '?')} {f.get('real_n', 0):,})"


