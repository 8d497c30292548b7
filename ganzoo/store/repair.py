"""Checking and repairing the store: the index against the version folders, the work folders.

The repairs ``ganzoo runs`` offers (``reindex``, ``recover``, ``gc``, ``check``) and the
integrity check of a version's weights, as methods :class:`~ganzoo.store.runstore.RunStore`
inherits from :class:`StoreRepair`; they use its connections and registration, and never hold
anything of their own.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.errors import IntegrityError, RegistryError
from ganzoo.store.layout import (
    OWNER_NAME,
    PENDING_NAME,
    VERSION_NAME,
    WEIGHTS_NAME,
    VersionRecord,
    record_from_json,
)

if TYPE_CHECKING:
    import sqlite3
    from contextlib import AbstractContextManager


class StoreRepair:
    """The repair and integrity half of :class:`~ganzoo.store.runstore.RunStore`."""

    # Provided by RunStore (its folders, connections and registration).
    home: Path
    models_dir: Path
    work_dir: Path
    db_path: Path

    if TYPE_CHECKING:
        def _connect(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _initialise(self) -> None: ...
        def _check_writable(self) -> None: ...
        def _insert(self, db: sqlite3.Connection, record: VersionRecord) -> None: ...
        def register(self, workdir: Path, info: Any) -> VersionRecord: ...
        def list(self, model_id: str | None = None,
                 dataset: str | None = None) -> list[VersionRecord]: ...

    def recover(self, workdir: Path | str) -> VersionRecord:
        """Register a finished run left in ``work/`` by a registration that gave up."""
        workdir = Path(workdir)
        if not workdir.is_absolute() and not workdir.exists():
            workdir = self.work_dir / workdir
        pending = workdir / PENDING_NAME
        if not pending.is_file():
            raise RegistryError(
                f"{workdir} holds no finished run to register (no {PENDING_NAME}); "
                "'ganzoo runs gc' lists the work folders")
        return self.register(workdir, json.loads(pending.read_text(encoding="utf-8")))

    def version_folders(self) -> dict[tuple[str, int], Path]:
        """Every ``models/<id>/<n>`` folder on disk, by (model id, version)."""
        found: dict[tuple[str, int], Path] = {}
        if not self.models_dir.is_dir():
            return found
        for model in sorted(self.models_dir.iterdir()):
            if not model.is_dir():
                continue
            for folder in model.iterdir():
                if folder.is_dir() and folder.name.isdigit():
                    found[(model.name, int(folder.name))] = folder
        return found

    def disagreements(self) -> list[str]:
        """How the version folders and the index disagree (empty when they agree)."""
        try:
            indexed = {(r.model_id, r.version): r for r in self.list()}
        except RegistryError as exc:
            return [str(exc)]
        folders = self.version_folders()
        problems = [f"{m}@{v} is on disk ({p}) but not in the index"
                    for (m, v), p in sorted(folders.items()) if (m, v) not in indexed]
        problems += [f"{r.ref} is in the index but its folder {r.path} is missing"
                     for key, r in sorted(indexed.items()) if key not in folders]
        return problems

    def reindex(self) -> tuple[list[VersionRecord], list[str]]:
        """Rebuild the index from the version folders' ``version.json`` (lineage kept).

        Evaluations of versions that still exist are kept when the old index is readable; an
        unreadable index is moved aside (``index.sqlite.broken-<time>``). Returns the records
        now indexed and what was skipped (folders without a readable version.json).
        """
        self._check_writable()
        try:
            with self._connect() as db:
                db.execute("SELECT COUNT(*) FROM versions").fetchone()
        except RegistryError as exc:
            if "busy" in str(exc):
                raise
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for suffix in ("", "-wal", "-shm"):
                old = Path(str(self.db_path) + suffix)
                if old.exists():
                    os.replace(old, Path(f"{self.db_path}.broken-{stamp}{suffix}"))
            self._initialise()
        records, skipped = [], []
        for (model_id, version), folder in sorted(self.version_folders().items()):
            try:
                data = json.loads((folder / VERSION_NAME).read_text(encoding="utf-8"))
                if data.get("weights_sha256") is None and (folder / WEIGHTS_NAME).is_file():
                    data["weights_sha256"] = _sha256(folder / WEIGHTS_NAME)
                records.append(record_from_json(data, model_id=model_id, version=version,
                                                path=folder))
            except (OSError, ValueError, TypeError, KeyError, RegistryError) as exc:
                skipped.append(f"{folder}: no readable {VERSION_NAME} ({exc})")
        with self._transaction() as db:
            db.execute("DELETE FROM versions")
            for record in records:
                self._insert(db, record)
            db.execute("DELETE FROM evaluations WHERE NOT EXISTS (SELECT 1 FROM versions v "
                       "WHERE v.model_id = evaluations.model_id "
                       "AND v.version = evaluations.version)")
        return records, skipped

    def work_folders(self) -> list[WorkFolder]:
        """Every folder under ``work/``, with whether a live process still owns it."""
        out = []
        if not self.work_dir.is_dir():
            return out
        for path in sorted(self.work_dir.iterdir()):
            if not path.is_dir():
                continue
            owner: dict[str, Any] = {}
            with suppress(OSError, ValueError):
                owner = json.loads((path / OWNER_NAME).read_text(encoding="utf-8"))
            pid = owner.get("pid")
            live = isinstance(pid, int) and _alive(pid, owner.get("start_time"))
            if not owner and not (path / PENDING_NAME).exists() \
                    and time.time() - path.stat().st_mtime < 60:
                live = True  # just created: its owner file is being written
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            out.append(WorkFolder(path, pid if isinstance(pid, int) else None, live,
                                  (path / PENDING_NAME).is_file(), size))
        return out

    def gc(self, clean: bool = False) -> list[WorkFolder]:
        """The orphan work folders (no live owner); with ``clean``, delete them.

        A folder holding a finished run that was never registered is reported but kept:
        'ganzoo runs recover' registers it.
        """
        orphans = [w for w in self.work_folders() if not w.live]
        if clean:
            self._check_writable()
            for folder in orphans:
                if not folder.pending:
                    shutil.rmtree(folder.path, ignore_errors=True)
        return orphans

    def verify_weights(self, record: VersionRecord) -> Path:
        """The version's weights file, checked against the sha256 recorded at registration."""
        return verified_weights(record)


def verified_weights(record: VersionRecord) -> Path:
    """``record``'s weights file, checked against the sha256 recorded at registration.

    A file changed since then raises :class:`IntegrityError` (a damaged file: the format's own
    error); a version without a recorded digest, or without a weights file, is returned as is.
    """
    path = record.path / WEIGHTS_NAME
    if record.weights_sha256 is None or not path.is_file():
        return path
    if _sha256(path) != record.weights_sha256:
        from ganzoo.weights import read_weights

        read_weights(path)  # a damaged file: its own checks say exactly what is wrong
        raise IntegrityError(
            f"{path} was changed after {record.ref} was registered (its sha256 no longer "
            "matches the index); refusing to use it. Restore the original file, or "
            f"remove the version with 'ganzoo runs rm {record.ref}'"
        )
    return path


@dataclass(frozen=True)
class WorkFolder:
    """A folder under ``work/``: a run in progress, or one whose process is gone."""

    path: Path
    pid: int | None
    live: bool
    pending: bool  # holds a finished run that was never registered
    size: int


def process_start_time(pid: int) -> float | None:
    """When ``pid`` started (clock ticks since boot, from /proc), or None where unknown.

    With the pid it identifies a process for good: a pid reused later has another start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return float(stat.rpartition(")")[2].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int, start_time: float | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's live process
    now = process_start_time(pid)
    return start_time is None or now is None or now == start_time



def _sha256(path: Path) -> str:
    from ganzoo.weights import file_sha256

    return file_sha256(path)
