"""The device a run asks for, in one vocabulary for every backend: auto, cpu, cuda, cuda:N.

The core parses ``--device`` once (:func:`parse_device`); a backend maps the parsed request to
its framework's device and says when the machine lacks it. Needs no framework.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganzoo.errors import UsageError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
KINDS = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Device:
    """A parsed device: ``kind`` auto | cpu | cuda, and for cuda the GPU's number (None:
    the framework's current GPU)."""

    kind: str
    index: int | None = None

    def __str__(self) -> str:
        return self.kind if self.index is None else f"{self.kind}:{self.index}"


def parse_device(text: str) -> Device:
    """The :class:`Device` that ``text`` names; a :class:`UsageError` names the choices."""
    kind, colon, index = str(text).strip().partition(":")
    if kind in KINDS and not colon:
        return Device(kind)
    if kind == "cuda" and index.isdigit():
        return Device("cuda", int(index))
    raise UsageError(f"--device must be {DEVICE_CHOICES} (N: a GPU's number, from 0), "
                     f"not '{text}'")
