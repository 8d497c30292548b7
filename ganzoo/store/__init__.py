"""The store of trained versions: immutable version folders and an embedded SQLite index."""

from ganzoo.store.layout import RunSummary, VersionRecord
from ganzoo.store.refs import VersionRef, parse_ref
from ganzoo.store.runstore import RunStore, ganzoo_home

__all__ = ["RunStore", "RunSummary", "VersionRecord", "VersionRef", "ganzoo_home", "parse_ref"]
