"""What every CLI command shares: the console, error display, and the catalog."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ganzoo.errors import EXIT_INTERRUPTED, GanzooError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def guarded(func: F) -> F:
    """Show a :class:`GanzooError` as one red line (no traceback) and exit with its code.

    The message is escaped: text in square brackets (``[height, width, channels]``, paths) is
    shown as written, never taken for rich markup. A Ctrl-C that reaches here (the second one
    during training) exits 130, the table's "interrupted" (docs/exit-codes.md).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GanzooError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout: no colours, no wrapping (docs/cli-json.md)."""
    import json

    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def width() -> int:
    """The width to fit tables to: the terminal's, or $COLUMNS, or 80 in a pipe."""
    return console.width


@functools.lru_cache(maxsize=1)
def load_catalog() -> Any:
    """The process's catalog, loaded once (plugins chosen by $GANZOO_PLUGINS)."""
    from ganzoo.catalog import Catalog

    return Catalog.load()
