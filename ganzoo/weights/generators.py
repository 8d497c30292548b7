"""From a weights file, or a registered version, to a loaded generator: the one way there.

Sampling (:mod:`ganzoo.sampling`), evaluation (:mod:`ganzoo.evaluation`, ``compare``), the
Python API (:func:`ganzoo.load`) and imports (:mod:`ganzoo.exchange`) all call these:

- a version reference -> its weights file, checked against the sha256 the index recorded
  (:func:`version_weights`; a record in hand: :func:`~ganzoo.store.repair.verified_weights`);
- a file -> checked against its family's card, and the backend that loads it
  (:mod:`ganzoo.weights.loading`) -> that backend's generator (:func:`build_generator`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.errors import WeightsFileError
from ganzoo.weights.format import select_part
from ganzoo.weights.loading import CheckedFile, check_file, loader_for

if TYPE_CHECKING:
    from ganzoo.catalog import Catalog
    from ganzoo.protocols import Backend, Generator
    from ganzoo.store import RunStore, VersionRecord


def build_generator(checked: CheckedFile, backend: Backend) -> Generator:
    """``backend``'s generator holding the generator tensors of a checked file."""
    tensors = select_part(checked.arrays, "generator")
    if not tensors:
        raise WeightsFileError(f"{checked.path} holds no generator tensors: it cannot be sampled")
    return backend.load_generator(checked.recipe, tensors)


def load_generator_from_file(catalog: Catalog, path: Path,
                             backend: str | None = None) -> tuple[Generator, dict[str, Any]]:
    """A generator built by ``backend`` (default: the one that trained it) from a weights file,
    and the file's metadata.

    The file is checked against its family's card first (metadata and tensor shapes), so a
    file that contradicts the card is a clear error, never a crash or a wrong distribution.
    """
    checked = check_file(catalog, Path(path))
    return generator_for(catalog, checked, backend), checked.meta


def generator_for(catalog: Catalog, checked: CheckedFile, backend: str | None = None) -> Generator:
    """The generator ``backend`` (default: the one that trained it) builds from a checked file;
    a backend that does not load its family is a usage error naming those that do."""
    spec = loader_for(catalog, checked.card.family, backend or checked.meta["backend"])
    return build_generator(checked, spec.load_backend())


def version_weights(ref: str, catalog: Catalog | None = None,
                    store: RunStore | None = None) -> tuple[Path, VersionRecord]:
    """The weights file of the version ``ref`` names and its record; the file checked against
    the sha256 the index recorded. With ``catalog``, an unknown model id suggests close ones
    before the store is read."""
    from ganzoo.store import RunStore, parse_ref

    if catalog is not None:
        catalog.model(parse_ref(ref).model_id)
    store = store if store is not None else RunStore()
    record = store.resolve(ref)
    return store.verify_weights(record), record


def load_version_generator(catalog: Catalog,
                           record: VersionRecord) -> tuple[Generator, dict[str, Any]]:
    """A registered version's generator, built by the backend that trained it, and its
    metadata (the weights checked against the recorded sha256 first)."""
    from ganzoo.store.repair import verified_weights

    return load_generator_from_file(catalog, verified_weights(record))
