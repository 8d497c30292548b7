"""Downloading a split's files from the official mirrors into ganzoo's cache, with a progress bar.

A file is written beside its final name as ``.<pid>.part``, checked in full (format, count,
content sha256, or the release archive's md5 where no content hash is published), and only then
renamed into place, so the cache never holds a half-downloaded or unchecked file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
from pathlib import Path
from urllib.request import urlopen

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ganzoo.data.errors import ChecksumError, DatasetError, DownloadError
from ganzoo.data.places import Found, Place, cache_dir
from ganzoo.data.spec import DatasetSpec, IdxFile, SplitSpec
from ganzoo.data.verify import Kind, read_checked

TIMEOUT_S = 30
_BLOCK = 1 << 16


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def _transfer(url: str, part: Path, label: str, progress: bool) -> str:
    """Stream ``url`` into ``part``; return the md5 of the bytes received."""
    md5 = hashlib.md5(usedforsecurity=False)
    with urlopen(url, timeout=TIMEOUT_S) as response, part.open("wb") as out, \
            _progress(progress) as bar:
        length = response.headers.get("Content-Length")
        task = bar.add_task(label, total=int(length) if length and length.isdigit() else None)
        while block := response.read(_BLOCK):
            out.write(block)
            md5.update(block)
            bar.advance(task, len(block))
    return md5.hexdigest()


def fetch_file(spec: DatasetSpec, split: SplitSpec, file: IdxFile, kind: Kind, target: Path,
               progress: bool = True) -> Path:
    """Download ``file`` to ``target`` from the first mirror that serves a good copy."""
    if not spec.mirrors:
        raise DownloadError(f"{spec.name} names no mirror to download {file.gz_name} from.")
    target.parent.mkdir(parents=True, exist_ok=True)
    # One .part per process: two runs downloading at once never write into the same file.
    part = target.with_name(f"{target.name}.{os.getpid()}.part")
    failures = []
    for mirror in spec.mirrors:
        url = f"{mirror}{file.gz_name}"
        try:
            md5 = _transfer(url, part, f"{spec.name} {file.gz_name}", progress)
            if not file.sha256 and file.archive_md5 and md5 != file.archive_md5:
                raise ChecksumError(
                    f"md5 {md5} is not the official release's {file.archive_md5}")
            read_checked(part, file, kind, split, spec)
            os.replace(part, target)
            return target
        except (OSError, http.client.HTTPException, ValueError, DatasetError) as exc:
            # OSError covers URLError, HTTPError, timeouts and a full disk.
            failures.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
        finally:
            part.unlink(missing_ok=True)  # also after Ctrl-C: no stray partial files
    raise DownloadError("failed: " + "; ".join(failures))


def download_split(spec: DatasetSpec, split: SplitSpec, dest: Path | None = None,
                   progress: bool = True) -> Found:
    """Fetch the files of ``split`` missing from ``dest`` (default: the cache folder)."""
    dest = dest if dest is not None else cache_dir() / spec.folder
    place = Place("ganzoo cache", dest)
    for file, kind in ((split.images, "images"), (split.labels, "labels")):
        if not ((dest / file.name).is_file() or (dest / file.gz_name).is_file()):
            fetch_file(spec, split, file, kind, dest / file.gz_name, progress)  # type: ignore[arg-type]
    found = place.look(split)
    if not isinstance(found, Found):  # pragma: no cover - both files were just written
        raise DownloadError(f"{dest}: {found.outcome} after downloading")
    return Found("ganzoo cache, just downloaded", found.images, found.labels)
