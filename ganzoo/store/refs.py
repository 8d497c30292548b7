"""Version references: ``dcgan-torch@3``, ``dcgan-torch@latest``, ``dcgan-torch@reference``
(the family's shipped reference generator) or just ``dcgan-torch``."""

from __future__ import annotations

from dataclasses import dataclass

from ganzoo.errors import UsageError


@dataclass(frozen=True)
class VersionRef:
    """A model id and a version number (``None`` means the latest); ``reference``: the
    family's shipped reference weights (:mod:`ganzoo.reference_weights`)."""

    model_id: str
    version: int | None = None
    reference: bool = False

    def __str__(self) -> str:
        if self.reference:
            return f"{self.model_id}@{REFERENCE}"
        return f"{self.model_id}@{'latest' if self.version is None else self.version}"


REFERENCE = "reference"


def parse_ref(text: str) -> VersionRef:
    """Parse ``MODEL``, ``MODEL@latest``, ``MODEL@N`` or ``MODEL@reference``; anything else
    is a usage error."""
    model_id, sep, version = text.strip().partition("@")
    if not model_id:
        raise UsageError(f"'{text}' is not a version reference: use MODEL@N, MODEL@latest "
                         "or MODEL@reference")
    if not sep or version == "latest":
        return VersionRef(model_id)
    if version == REFERENCE:
        return VersionRef(model_id, reference=True)
    if not version.isdigit() or int(version) < 1:
        raise UsageError(
            f"'{text}': the version after '@' must be a positive number, 'latest' or "
            f"'reference' (e.g. {model_id}@1, {model_id}@latest, {model_id}@reference)"
        )
    return VersionRef(model_id, int(version))
