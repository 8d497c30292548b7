"""Checks on a card's TOML tables: required and allowed keys, choices, numbers.

Every error is a :class:`~ganzoo.errors.CardError` that names where in the card it is
(``registry/dcgan.toml: recipes.mnist.batch_size``), so a card author knows what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ganzoo.errors import CardError


def require(table: Mapping[str, Any], key: str, where: str) -> Any:
    """``table[key]``; a missing key is a :class:`CardError`."""
    if key not in table:
        raise CardError(f"{where}: missing required key '{key}'")
    return table[key]


def check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Refuse a key of ``table`` that is not in ``allowed`` (the error lists them)."""
    allowed = set(allowed)
    for key in table:
        if key not in allowed:
            raise CardError(
                f"{where}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})"
            )


def choice(value: Any, choices: Iterable[str], where: str) -> str:
    """``value``, when it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise CardError(f"{where}: '{value}' is not one of {', '.join(choices)}")
    return value


def positive_int(value: Any, where: str) -> int:
    """``value``, when it is a positive integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CardError(f"{where}: expected a positive integer, got {value!r}")
    return value
