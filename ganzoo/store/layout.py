"""What a saved version holds: its folder's file names and its typed record.

A version folder (``models/<model id>/<version>/``) holds the files named below; this module is
the one place that names them, and :class:`VersionRecord` the one place that lists what the
index knows of a version (``store.runstore`` derives its table and its SQL from the fields).
A run in progress writes the same names into its work folder, which registration renames into
place.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ganzoo.errors import RegistryError

# -- the folder's files -----------------------------------------------------------------------

WEIGHTS_NAME = "weights.safetensors"  # canonical generator + discriminator (docs/weights.md)
CHECKPOINT_NAME = "checkpoint.safetensors"  # the trainer's whole state, for --resume
CONFIG_NAME = "config.json"  # the TrainConfig the run used
RESULT_NAME = "result.json"  # how the run ended: status, message, position, speed
BEST_NAME = "best.safetensors"  # --eval-every: the best evaluated epoch's weights
METRICS_NAME = "metrics.jsonl"  # the metrics log: one JSON record per logged chunk/epoch
SAMPLES_NAME = "samples.png"  # the final fixed-noise grid
SAMPLES_DIR = "samples"  # one grid per epoch: samples/epoch_NNNN.png
LOSS_PLOT_NAME = "loss.png"  # the losses over the run
VERSION_NAME = "version.json"  # the version's index row (what 'runs reindex' reads)
# Only in work folders (removed at registration):
OWNER_NAME = "owner.json"  # the pid and start time of the process using the folder
PENDING_NAME = "registration.json"  # what to register ('runs recover')

STATUSES = ("complete", "interrupted", "diverged")


# -- the record ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """What a finished run (or an import) hands to registration: the index's columns that
    registration does not assign itself."""

    model_id: str
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
    final_metrics: dict[str, float] = field(default_factory=dict)
    parent: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise RegistryError(f"unknown status {self.status!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        """The summary ``data`` describes (numbers coerced; unknown keys refused)."""
        names = {f.name for f in fields(RunSummary)}
        unknown = sorted(set(data) - names)
        missing = sorted(f.name for f in fields(RunSummary)
                         if f.name not in data and f.default is MISSING
                         and f.default_factory is MISSING)
        if unknown or missing:
            raise RegistryError(f"a run summary needs {', '.join(sorted(names))}; "
                                f"unknown: {unknown}, missing: {missing}")
        return RunSummary(**_coerced(data))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(RunSummary)}


@dataclass(frozen=True, kw_only=True)
class VersionRecord(RunSummary):
    """One registered version, as the index holds it."""

    version: int
    created: float
    path: Path
    weights_sha256: str | None = None
    evaluations: list[dict[str, Any]] = field(default_factory=list, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.model_id}@{self.version}"

    @property
    def imported_from(self) -> str | None:
        """The file an imported version came from (None for a trained version)."""
        if self.parent and self.parent.startswith("import:"):
            return self.parent.partition(":")[2]
        return None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


# The index's columns: every field but the evaluations (a table of their own), in field order.
INDEX_COLUMNS = tuple(f.name for f in fields(VersionRecord) if f.name != "evaluations")
_SQL_TYPES = {"str": "TEXT NOT NULL", "int": "INTEGER NOT NULL", "float": "REAL NOT NULL",
              "Path": "TEXT NOT NULL", "dict[str, float]": "TEXT NOT NULL",
              "str | None": "TEXT"}
_COERCE = {"int": int, "float": float, "dict[str, float]": dict}


def versions_table_sql() -> str:
    """``CREATE TABLE`` of the versions index, from :class:`VersionRecord`'s fields."""
    types = {f.name: _SQL_TYPES[str(f.type)] for f in fields(VersionRecord)
             if f.name in INDEX_COLUMNS}
    columns = ",\n    ".join(f"{name} {types[name]}" for name in INDEX_COLUMNS)
    return (f"CREATE TABLE IF NOT EXISTS versions (\n    {columns},\n"
            "    PRIMARY KEY (model_id, version)\n);")


def record_to_row(record: VersionRecord, home: Path) -> tuple[Any, ...]:
    """The index row of ``record`` (values in :data:`INDEX_COLUMNS` order; the path relative
    to the store's ``home``, the metrics as JSON)."""
    encode = {"final_metrics": json.dumps,
              "path": lambda p: str(Path(p).relative_to(home))}
    return tuple(encode.get(name, _same)(getattr(record, name)) for name in INDEX_COLUMNS)


def record_from_row(row: dict[str, Any], home: Path,
                    evaluations: list[dict[str, Any]] | None = None) -> VersionRecord:
    """The :class:`VersionRecord` of an index row (as a column -> value mapping)."""
    data = {name: row.get(name) for name in INDEX_COLUMNS}
    data["final_metrics"] = json.loads(data["final_metrics"])
    data["path"] = home / data["path"]
    return VersionRecord(**data, evaluations=list(evaluations or []))


def record_from_json(data: dict[str, Any], **assigned: Any) -> VersionRecord:
    """The record a ``version.json`` holds, with ``assigned`` (model id, version, path, ...)
    overriding what the file says; keys that are not fields are ignored."""
    known = {f.name for f in fields(VersionRecord)} - {"evaluations"}
    values = {k: v for k, v in {**data, **assigned}.items() if k in known}
    values.setdefault("weights_sha256", None)
    values["path"] = Path(values["path"])
    return VersionRecord(**_coerced(values))


def _coerced(data: dict[str, Any]) -> dict[str, Any]:
    types = {f.name: str(f.type) for f in fields(VersionRecord)}
    return {k: _COERCE[types[k]](v) if types.get(k) in _COERCE else v for k, v in data.items()}


def _same(value: Any) -> Any:
    return value
