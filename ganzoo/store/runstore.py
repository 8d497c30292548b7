"""RunStore: trained versions as immutable folders, indexed in SQLite.

Layout under the home directory ($GANZOO_HOME, else the platform's user data dir)::

    index.sqlite                      the index (WAL journal; every write is one transaction)
    work/<uuid>/                      runs in progress (checkpoints land here first)
    models/<model id>/<version>/      registered versions, never modified after registration

Registration renames a finished work folder into place and inserts its row inside one
``BEGIN IMMEDIATE`` transaction, so two concurrent trainings get distinct version numbers and a
writer killed at any point leaves the index consistent (at worst an unindexed folder, whose
number is then skipped).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.errors import RegistryError, UnknownVersionError
from ganzoo.store.refs import VersionRef, parse_ref

HOME_ENV = "GANZOO_HOME"
STATUSES = ("complete", "interrupted", "diverged")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    model_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    family TEXT NOT NULL,
    backend TEXT NOT NULL,
    recipe TEXT NOT NULL,
    dataset TEXT NOT NULL,
    split TEXT NOT NULL,
    epochs INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    wall_time_s REAL NOT NULL,
    images_per_s REAL NOT NULL,
    final_metrics TEXT NOT NULL,
    parent TEXT,
    created REAL NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (model_id, version)
);
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


@dataclass(frozen=True)
class VersionRecord:
    """One registered version, as the index holds it."""

    model_id: str
    version: int
    status: str
    family: str
    backend: str
    recipe: str
    dataset: str
    split: str
    epochs: int
    steps: int
    seed: int
    wall_time_s: float
    images_per_s: float
    final_metrics: dict[str, float]
    parent: str | None
    created: float
    path: Path
    evaluations: list[dict[str, Any]] = field(default_factory=list, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.model_id}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


class RunStore:
    """The registry of trained versions rooted at ``home``."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else ganzoo_home()
        self.models_dir = self.home / "models"
        self.work_dir = self.home / "work"
        self.db_path = self.home / "index.sqlite"
        self.home.mkdir(parents=True, exist_ok=True)
        self._initialise()

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
                return
            except RegistryError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05 + random.random() * 0.1)

    # -- connections ------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open the run index {self.db_path}: {exc}") from None
        try:
            db.execute("PRAGMA busy_timeout=60000")
            yield db
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise RegistryError(f"the run index {self.db_path} is busy ({exc}); another "
                                    "ganzoo process holds it: try again") from None
            raise RegistryError(f"the run index {self.db_path} failed: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise RegistryError(
                f"the run index {self.db_path} is unreadable ({exc}); move it aside and "
                "re-register versions with 'ganzoo import'"
            ) from None
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- writing ----------------------------------------------------------------------------

    def new_workdir(self) -> Path:
        """A fresh folder for a run in progress."""
        path = self.work_dir / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    def _next_version(self, db: sqlite3.Connection, model_id: str) -> int:
        row = db.execute("SELECT MAX(version) FROM versions WHERE model_id = ?",
                         (model_id,)).fetchone()
        indexed = row[0] or 0
        folder = self.models_dir / model_id
        on_disk = max((int(p.name) for p in folder.iterdir() if p.name.isdigit()),
                      default=0) if folder.exists() else 0
        return max(indexed, on_disk) + 1

    def register(self, workdir: Path, info: dict[str, Any]) -> VersionRecord:
        """Move ``workdir`` into place as the next version of ``info['model_id']``.

        ``info`` holds the index columns (status, family, backend, recipe, dataset, split,
        epochs, steps, seed, wall_time_s, images_per_s, final_metrics, parent).
        """
        if info["status"] not in STATUSES:
            raise RegistryError(f"unknown status {info['status']!r}")
        model_id = info["model_id"]
        (self.models_dir / model_id).mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            version = self._next_version(db, model_id)
            final = self.models_dir / model_id / str(version)
            record = VersionRecord(
                model_id=model_id, version=version, status=info["status"],
                family=info["family"], backend=info["backend"], recipe=info["recipe"],
                dataset=info["dataset"], split=info["split"], epochs=int(info["epochs"]),
                steps=int(info["steps"]), seed=int(info["seed"]),
                wall_time_s=float(info["wall_time_s"]),
                images_per_s=float(info["images_per_s"]),
                final_metrics=dict(info.get("final_metrics", {})), parent=info.get("parent"),
                created=time.time(), path=final,
            )
            _write_json(Path(workdir) / "version.json", record.to_dict())
            os.replace(workdir, final)
            db.execute(
                "INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (record.model_id, record.version, record.status, record.family,
                 record.backend, record.recipe, record.dataset, record.split, record.epochs,
                 record.steps, record.seed, record.wall_time_s, record.images_per_s,
                 json.dumps(record.final_metrics), record.parent, record.created,
                 str(final.relative_to(self.home))),
            )
        return record

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
        data = dict(row)
        data["final_metrics"] = json.loads(data["final_metrics"])
        data["path"] = self.home / data["path"]
        return VersionRecord(**data, evaluations=evals)

    def list(self, model_id: str | None = None, dataset: str | None = None) -> list[VersionRecord]:
        """Registered versions, oldest first, optionally filtered."""
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
        """The version a reference names (``MODEL@N``, ``MODEL@latest``, ``MODEL``)."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        versions = self.list(parsed.model_id, dataset)
        if not versions:
            on = f" on dataset '{dataset}'" if dataset else ""
            raise UnknownVersionError(
                f"No trained version of {parsed.model_id}{on}. Train one with "
                f"'ganzoo train {parsed.model_id}' (see 'ganzoo runs' for what exists)."
            )
        if parsed.version is None:
            return versions[-1]
        for record in versions:
            if record.version == parsed.version:
                return record
        known = ", ".join(str(r.version) for r in versions)
        raise UnknownVersionError(
            f"{parsed} does not exist; versions of {parsed.model_id}: {known}.")


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)
