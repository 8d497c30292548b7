"""The JSON-lines metrics log of a run: one record per read-back and one per epoch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganzoo.store.layout import METRICS_NAME  # noqa: F401 - the name, re-exported


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line (flushed, so a killed run keeps what it logged)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()


def read_records(path: Path, kind: str | None = None) -> Iterator[dict[str, Any]]:
    """Records of a metrics log, optionally only those of one ``kind`` (step or epoch)."""
    if not Path(path).exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a killed writer
            if kind is None or record.get("kind") == kind:
                yield record


def truncate_after(path: Path, global_step: int) -> None:
    """Drop records past ``global_step`` (a resumed run rewinds to its checkpoint)."""
    if not Path(path).exists():
        return
    keep = [r for r in read_records(path) if r.get("global_step", 0) <= global_step]
    Path(path).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in keep),
                          encoding="utf-8")
