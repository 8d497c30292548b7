"""Version references: ``dcgan-torch@3``, ``dcgan-torch@latest`` or just ``dcgan-torch``."""

from __future__ import annotations

from dataclasses import dataclass

from ganzoo.errors import UsageError


@dataclass(frozen=True)
class VersionRef:
    """A model id and a version number (``None`` means the latest)."""

    model_id: str
    version: int | None = None

    def __str__(self) -> str:
        return f"{self.model_id}@{'latest' if self.version is None else self.version}"


def parse_ref(text: str) -> VersionRef:
    """Parse ``MODEL``, ``MODEL@latest`` or ``MODEL@N``; anything else is a usage error."""
    model_id, sep, version = text.strip().partition("@")
    if not model_id:
        raise UsageError(f"'{text}' is not a version reference: use MODEL@N or MODEL@latest")
    if not sep or version == "latest":
        return VersionRef(model_id)
    if not version.isdigit() or int(version) < 1:
        raise UsageError(
            f"'{text}': the version after '@' must be a positive number or 'latest' "
            f"(e.g. {model_id}@1, {model_id}@latest)"
        )
    return VersionRef(model_id, int(version))
