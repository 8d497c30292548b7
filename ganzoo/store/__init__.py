"""The store of trained versions: immutable version folders and an embedded SQLite index."""

from ganzoo.store.refs import VersionRef, parse_ref
from ganzoo.store.runstore import RunStore, VersionRecord, ganzoo_home

__all__ = ["RunStore", "VersionRecord", "VersionRef", "ganzoo_home", "parse_ref"]
