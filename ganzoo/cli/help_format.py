"""Help text details typer gets wrong for ganzoo: flags shown with a ``<bool>`` value.

Typer 0.2x prints the type of every option in the help panel, flags included
(``--version <bool>``), which reads as if a flag took a value. A flag takes none, so its
type column is left empty; options with values keep theirs (``--epochs <int>``).
"""

from __future__ import annotations

from typing import Any


def hide_flag_metavars() -> None:
    """Show no type for flags (``--json``, ``--progress/--no-progress``) in ``--help``."""
    from typer.core import TyperOption

    if getattr(TyperOption.display_type_rich, "_ganzoo", False):
        return
    original = TyperOption.display_type_rich

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        return original(self, ctx)

    display_type_rich._ganzoo = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
