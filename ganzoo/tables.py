"""Tables that fit the terminal without cutting what a user copies or greps (ids, refs).

Rich shrinks every column evenly when a table is too wide, ellipsis included ("dcgan-tor…").
:func:`fit_table` decides instead: the named columns stay whole; the others wrap; when even
their narrowest layout does not fit, the columns named in ``drop`` are left out, in that order,
and their headers are returned so the caller can say so.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text


def _plain(cell: object) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return ""


def _header(column: Column) -> str:
    return _plain(column.header)


def fit_table(table: Table, width: int, *, whole: Sequence[str] = (),
              drop: Sequence[str] = (), console: Console | None = None) -> list[str]:
    """Make ``table`` fit ``width`` columns; returns the headers of the columns left out.

    Columns whose header is in ``whole`` never wrap nor shrink (each of their lines is kept
    whole); the others wrap at spaces. Columns named in ``drop`` are removed, first named first,
    only while the table cannot fit otherwise.
    """
    console = console or Console(width=width)
    for column in table.columns:
        if _header(column) in whole:
            lines = [line for cell in [column.header, *column.cells]
                     for line in _plain(cell).splitlines()]
            column.no_wrap = True
            column.min_width = max((cell_len(line) for line in lines), default=1)
    options = console.options.update_width(width)
    dropped: list[str] = []

    def ranges() -> list[tuple[int, int]]:
        out = []
        for column in table.columns:
            m = table._measure_column(console, options, column)  # includes its padding
            out.append((m.minimum, m.maximum))
        return out

    def extra() -> int:
        return table._extra_width

    measured = ranges()
    for header in drop:
        if sum(lo for lo, _ in measured) + extra() <= width:
            break
        for i, column in enumerate(table.columns):
            if _header(column) == header:
                del table.columns[i]
                dropped.append(header)
                break
        for i, column in enumerate(table.columns):
            column._index = i
        measured = ranges()
    room = width - extra()
    if sum(hi for _, hi in measured) <= room:
        return dropped
    # Start every column at its narrowest and share what is left by how much each could use.
    widths = [lo for lo, _ in measured]
    over = sum(widths) - room
    if over > 0:
        # Nothing left to drop and still too wide: the other columns fold below their longest
        # word (still never cut); the whole ones keep their width.
        for i, column in sorted(enumerate(table.columns), key=lambda ic: -widths[ic[0]]):
            if _header(column) in whole or over <= 0:
                continue
            column.overflow = "fold"
            take = min(over, widths[i] - table._get_padding_width(column._index) - 1)
            widths[i] -= take
            over -= take
            measured[i] = (widths[i], measured[i][1])
    spare = room - sum(widths)
    wants = [hi - lo for lo, hi in measured]
    total = sum(wants)
    if spare > 0 and total > 0:
        for i, want in enumerate(wants):
            widths[i] += min(want, spare * want // total)
    for column, w, (lo, _) in zip(table.columns, widths, measured, strict=True):
        padding = table._get_padding_width(column._index)
        column.width = max(w, lo) - padding
    return dropped
