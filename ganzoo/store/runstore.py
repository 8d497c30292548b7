"""RunStore: trained versions as immutable folders, indexed in SQLite.

Layout under the home directory ($GANZOO_HOME, else the platform's user data dir)::

    index.sqlite                      the index (WAL journal; every write is one transaction)
    work/<uuid>/                      runs in progress (checkpoints land here first)
    models/<model id>/<version>/      registered versions, never modified after registration

Registration renames a finished work folder into place and inserts its row inside one
``BEGIN IMMEDIATE`` transaction, so two concurrent trainings get distinct version numbers and a
writer killed at any point leaves the index consistent (at worst an unindexed folder, whose
number is then skipped). The repairs (reindex, recover, gc) and the weights' integrity check
live in :mod:`ganzoo.store.repair`, which :class:`RunStore` inherits.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ganzoo.errors import (
    ReadOnlyHomeError,
    RegistrationPendingError,
    RegistryError,
    StoreWriteError,
    UnknownVersionError,
)
from ganzoo.store.layout import (
    INDEX_COLUMNS,
    OWNER_NAME,
    PENDING_NAME,
    STATUSES,
    VERSION_NAME,
    WEIGHTS_NAME,
    RunSummary,
    VersionRecord,
    record_from_json,
    record_from_row,
    record_to_row,
    versions_table_sql,
)
from ganzoo.store.refs import VersionRef, parse_ref
from ganzoo.store.repair import StoreRepair, WorkFolder, process_start_time

__all__ = ["STATUSES", "RunStore", "RunSummary", "VersionRecord", "WorkFolder", "ganzoo_home"]

HOME_ENV = "GANZOO_HOME"
# Registration keeps retrying a busy index this long (seconds) before giving up.
REGISTER_PATIENCE_ENV = "GANZOO_REGISTER_PATIENCE"
DEFAULT_REGISTER_PATIENCE = 600.0

_SCHEMA = versions_table_sql() + """
CREATE TABLE IF NOT EXISTS evaluations (
    model_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    protocol TEXT NOT NULL,
    results TEXT NOT NULL
);
"""


def ganzoo_home() -> Path:
    """The store's root: $GANZOO_HOME, else the platform's user data directory."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("ganzoo"))


class RunStore(StoreRepair):
    """The registry of trained versions rooted at ``home``.

    A home that cannot be written (read-only mount, another user's registry) is opened
    read-only: listing, showing and sampling work; every write raises
    :class:`ReadOnlyHomeError`. ``busy_timeout`` is how long one SQLite statement waits for a
    lock; ``register_patience`` how long registration keeps retrying a busy index.
    """

    def __init__(self, home: Path | str | None = None, *, busy_timeout: float = 30.0,
                 register_patience: float | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        self.home = Path(home) if home is not None else ganzoo_home()
        self.models_dir = self.home / "models"
        self.work_dir = self.home / "work"
        self.db_path = self.home / "index.sqlite"
        self.busy_timeout = busy_timeout
        if register_patience is None:
            register_patience = float(os.environ.get(REGISTER_PATIENCE_ENV,
                                                     DEFAULT_REGISTER_PATIENCE))
        self.register_patience = register_patience
        self.notify = notify or _to_stderr
        if not self.home.is_dir():
            try:
                self.home.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RegistryError(
                    f"cannot create the ganzoo home {self.home} ({exc.strerror or exc}); set "
                    f"{HOME_ENV} to a folder you can write, e.g. {HOME_ENV}=~/ganzoo-home"
                ) from None
        self.read_only = not _writable(self.home) or (
            self.db_path.exists() and not _writable(self.db_path))
        if not self.read_only:
            try:
                self._initialise()
            except RegistryError as exc:
                if "unreadable" not in str(exc):
                    raise
                # A corrupt index: every read says so; 'ganzoo runs reindex' rebuilds it.

    def _initialise(self) -> None:
        """Create the schema and switch to WAL (persistent), tolerating concurrent openers.

        Switching the journal mode needs an exclusive lock and may answer "database is
        locked" at once, without waiting, when another process (a torchrun rank, a second
        training) opens a fresh index at the same moment: retry for a while.
        """
        deadline = time.monotonic() + 60
        while True:
            try:
                with self._connect() as db:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(_SCHEMA)
                    columns = {r[1] for r in db.execute("PRAGMA table_info(versions)")}
                    if "weights_sha256" not in columns:  # an index written before the column
                        db.execute("ALTER TABLE versions ADD COLUMN weights_sha256 TEXT")
                return
            except RegistryError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) \
                        or time.monotonic() > deadline:
                    raise
                time.sleep(0.05 + random.random() * 0.1)

    # -- connections ------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if not self.read_only:
            return sqlite3.connect(self.db_path, timeout=self.busy_timeout,
                                   isolation_level=None)
        # Read-only: 'mode=ro' reads a WAL index while others may write; where even that needs
        # a write (no -shm file, read-only folder), 'immutable' reads the file as it is.
        uri = self.db_path.resolve().as_uri()
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.Error:
            db.close()
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = self._open()
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open the run index {self.db_path}: {exc}") from None
        try:
            if not self.read_only:
                db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            yield db
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise RegistryError(f"the run index {self.db_path} is busy ({exc}); another "
                                    "ganzoo process holds it: try again") from None
            raise RegistryError(f"the run index {self.db_path} failed: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise RegistryError(
                f"the run index {self.db_path} is unreadable ({exc}); move it aside and "
                "rebuild it from the version folders with 'ganzoo runs reindex'"
            ) from None
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._check_writable()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def ensure_writable(self) -> None:
        """Raise :class:`ReadOnlyHomeError` now if nothing can be registered here."""
        self._check_writable()

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyHomeError(
                f"the ganzoo home {self.home} is read-only: listing, showing and sampling "
                f"work, but nothing can be registered, removed or trained into it. Pick "
                f"another home with {HOME_ENV}=/a/writable/folder"
            )

    # -- writing ----------------------------------------------------------------------------

    def new_workdir(self) -> Path:
        """A fresh folder for a run in progress, owned by this process (see :meth:`gc`)."""
        self._check_writable()
        path = self.work_dir / uuid.uuid4().hex
        path.mkdir(parents=True)
        _write_json(path / OWNER_NAME, {"pid": os.getpid(),
                                        "start_time": process_start_time(os.getpid()),
                                        "created": time.time()})
        return path

    def _next_version(self, db: sqlite3.Connection, model_id: str) -> int:
        row = db.execute("SELECT MAX(version) FROM versions WHERE model_id = ?",
                         (model_id,)).fetchone()
        indexed = row[0] or 0
        folder = self.models_dir / model_id
        on_disk = max((int(p.name) for p in folder.iterdir() if p.name.isdigit()),
                      default=0) if folder.exists() else 0
        return max(indexed, on_disk) + 1

    def register(self, workdir: Path, info: RunSummary | dict[str, Any]) -> VersionRecord:
        """Move ``workdir`` into place as the next version of ``info.model_id``.

        ``info`` is the :class:`RunSummary` of the run (or its fields as a dict). It is saved
        in the work folder first; a busy index is retried with backoff (saying so) for
        ``register_patience`` seconds, after which :class:`RegistrationPendingError` says where
        the result is and how to register it later (``ganzoo runs recover``).
        """
        if not isinstance(info, RunSummary):
            info = RunSummary.from_dict(info)
        self._check_writable()
        workdir = Path(workdir)
        _write_json(workdir / PENDING_NAME, info.to_dict())
        deadline = time.monotonic() + self.register_patience
        delay = 0.5
        while True:
            try:
                return self._register_once(workdir, info)
            except RegistryError as exc:
                if "busy" not in str(exc):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    # This process is done with the folder: 'runs gc' lists it as finished.
                    (workdir / OWNER_NAME).unlink(missing_ok=True)
                    raise RegistrationPendingError(
                        f"could not register the finished run: the run index {self.db_path} "
                        f"stayed busy. Nothing is lost: the result is in {workdir}; register "
                        f"it with 'ganzoo runs recover {workdir}'"
                    ) from None
                wait = min(delay, left)
                self.notify(f"The run index is busy (another ganzoo process holds it); "
                            f"retrying registration in {wait:.1f}s ({left:.0f}s left)")
                time.sleep(wait)
                delay = min(delay * 2, 30.0)

    def _register_once(self, workdir: Path, info: RunSummary) -> VersionRecord:
        model_id = info.model_id
        (self.models_dir / model_id).mkdir(parents=True, exist_ok=True)
        weights = workdir / WEIGHTS_NAME
        digest = _sha256(weights) if weights.is_file() else None
        with self._transaction() as db:
            version = self._next_version(db, model_id)
            final = self.models_dir / model_id / str(version)
            record = record_from_json(info.to_dict(), version=version, created=time.time(),
                                      path=final, weights_sha256=digest)
            _write_json(workdir / VERSION_NAME, record.to_dict())
            os.replace(workdir, final)
            try:
                self._insert(db, record)
            except BaseException:
                os.replace(final, workdir)  # the transaction rolls back: keep the work folder
                raise
        for name in (PENDING_NAME, OWNER_NAME):
            (final / name).unlink(missing_ok=True)
        return record

    def _insert(self, db: sqlite3.Connection, record: VersionRecord) -> None:
        db.execute(f"INSERT INTO versions ({', '.join(INDEX_COLUMNS)}) "
                   f"VALUES ({', '.join('?' * len(INDEX_COLUMNS))})",
                   record_to_row(record, self.home))

    def add_evaluation(self, ref: str, protocol: dict[str, Any], results: dict[str, Any]) -> None:
        """Attach evaluation results (with the protocol that produced them) to a version."""
        record = self.resolve(ref)
        with self._transaction() as db:
            db.execute("INSERT INTO evaluations VALUES (?,?,?,?,?)",
                       (record.model_id, record.version, time.time(),
                        json.dumps(protocol, sort_keys=True), json.dumps(results)))

    def remove(self, ref: str) -> VersionRecord:
        """Delete a version: its index row first (atomic), then its folder."""
        record = self.resolve(ref)
        with self._transaction() as db:
            db.execute("DELETE FROM versions WHERE model_id = ? AND version = ?",
                       (record.model_id, record.version))
            db.execute("DELETE FROM evaluations WHERE model_id = ? AND version = ?",
                       (record.model_id, record.version))
        shutil.rmtree(record.path, ignore_errors=True)
        return record

    # -- reading ----------------------------------------------------------------------------

    def _record(self, row: sqlite3.Row, db: sqlite3.Connection) -> VersionRecord:
        evals = [
            {"created": e[0], "protocol": json.loads(e[1]), "results": json.loads(e[2])}
            for e in db.execute(
                "SELECT created, protocol, results FROM evaluations WHERE model_id = ? AND "
                "version = ? ORDER BY created", (row["model_id"], row["version"]))
        ]
        return record_from_row(dict(row), self.home, evals)

    def list(self, model_id: str | None = None, dataset: str | None = None) -> list[VersionRecord]:
        """Registered versions, oldest first, optionally filtered."""
        if self.read_only and not self.db_path.exists():
            return []
        sql, args = "SELECT * FROM versions WHERE 1=1", []
        if model_id:
            sql += " AND model_id = ?"
            args.append(model_id)
        if dataset:
            sql += " AND dataset = ?"
            args.append(dataset)
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(sql + " ORDER BY model_id, version", args).fetchall()
            return [self._record(r, db) for r in rows]

    def resolve(self, ref: str | VersionRef, dataset: str | None = None) -> VersionRecord:
        """The version a reference names (``MODEL@N``, ``MODEL@latest``, ``MODEL``;
        ``MODEL@reference`` imports the family's shipped weights on first use)."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed.reference:  # the family's shipped weights, imported once into this store
            from ganzoo.reference_weights import resolve_reference

            return resolve_reference(self, parsed.model_id)
        versions = self.list(parsed.model_id, dataset)
        unindexed = sorted(v for (m, v) in self.version_folders() if m == parsed.model_id
                           and v not in {r.version for r in versions})
        hint = (f" Folders of {parsed.model_id} versions {', '.join(map(str, unindexed))} "
                "exist but are not in the index: rebuild it with 'ganzoo runs reindex'."
                if unindexed else "")
        if not versions:
            on = f" on dataset '{dataset}'" if dataset else ""
            raise UnknownVersionError(
                f"No trained version of {parsed.model_id}{on}. Train one with "
                f"'ganzoo train {parsed.model_id}' (see 'ganzoo runs' for what exists)." + hint
            )
        if parsed.version is None:
            return versions[-1]
        for record in versions:
            if record.version == parsed.version:
                return record
        known = ", ".join(str(r.version) for r in versions)
        raise UnknownVersionError(
            f"{parsed} does not exist; versions of {parsed.model_id}: {known}." + hint)


def _writable(path: Path) -> bool:
    """Whether this process may write ``path`` (False on a read-only mount)."""
    if not os.access(path, os.W_OK):
        return False
    try:
        return not os.statvfs(path).f_flag & os.ST_RDONLY
    except (OSError, AttributeError):
        return True


def _sha256(path: Path) -> str:
    from ganzoo.weights import file_sha256

    return file_sha256(path)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename); a failed write is a typed error."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreWriteError(f"cannot write {path}: {exc.strerror or exc}; nothing was "
                              "written") from None
