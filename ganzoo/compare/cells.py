"""Table cells shared by the renderers: a contender's row and the real floor's row."""

from __future__ import annotations

from collections.abc import Callable

from ganzoo.compare.report import COLUMNS, CompareReport, Contender


def row_cells(report: CompareReport, contender: Contender, mark: Callable[[str], str]) -> list[str]:
    values = contender.values()
    cells = []
    for col in COLUMNS:
        v = values[col.key]
        text = "—" if v is None else col.fmt(v)
        cells.append(mark(text) if col.key in contender.best else text)
    return cells


def floor_cells(report: CompareReport) -> list[str]:
    f = report.floor or {}
    return ["" if col.metric is False else ("—" if f.get(col.key) is None
                                             else col.fmt(f[col.key]))
            for col in COLUMNS]


def floor_label(report: CompareReport) -> str:
    f = report.floor or {}
    return f"real floor ({f.get('real_split', '?')} {f.get('real_n', 0):,})"


