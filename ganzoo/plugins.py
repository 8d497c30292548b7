"""Loading plugins from entry points, with every failure isolated and reported by name."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from ganzoo import hookspecs

ENTRY_POINT_GROUP = "ganzoo"
# Comma-separated plugin names to load (all when unset; none when empty). Handy in tests.
PLUGINS_ENV = "GANZOO_PLUGINS"
# Names of the core's own built-in plugins: an entry point may not take them.
RESERVED_NAMES = frozenset({"datasets"})


@dataclass
class PluginReport:
    """What one plugin is and what it did: shown by ``ganzoo plugins``."""

    name: str
    version: str = ""
    source: str = ""  # "entry point <module>" or "builtin"
    registered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _dist_version(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is not None:
        return f"{dist.metadata['Name']} {dist.version}"
    return ""


def _load_order(ep: metadata.EntryPoint) -> tuple[bool, str, str]:
    """ganzoo's own plugins first, then by name: the first to register a model id keeps it,
    so a third-party plugin never shadows a built-in, whatever order sys.path lists them in."""
    dist = getattr(ep, "dist", None)
    builtin = dist is not None and dist.metadata["Name"] == "ganzoo"
    return (not builtin, ep.name, ep.value)


def _selected(names: str | None) -> set[str] | None:
    if names is None:
        return None
    return {n.strip() for n in names.split(",") if n.strip()}


class PluginHost:
    """A pluggy manager plus one report per plugin. Never raises for a plugin's failure."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.reports: dict[str, PluginReport] = {}

    def load_entry_points(self, only: Iterable[str] | None = None) -> None:
        """Load every ``ganzoo`` entry point (or those named in ``only`` / $GANZOO_PLUGINS)."""
        wanted = set(only) if only is not None else _selected(os.environ.get(PLUGINS_ENV))
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=_load_order):
            if wanted is not None and ep.name not in wanted:
                continue
            if ep.name in RESERVED_NAMES or ep.name in self.reports:
                why = "is reserved for ganzoo" if ep.name in RESERVED_NAMES else "is taken"
                self.reports.setdefault(ep.name, PluginReport(ep.name)).errors.append(
                    f"entry point '{ep.name}' ({ep.value}) was ignored: the name {why}"
                )
                continue
            report = PluginReport(ep.name, _dist_version(ep), f"entry point {ep.value}")
            self.reports[ep.name] = report
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not take the others down
                report.errors.append(f"failed to load: {_describe(exc)}")

    def add(self, plugin: Any, name: str, version: str = "", source: str = "builtin") -> None:
        """Register a plugin object directly (used for tests and embedding)."""
        report = PluginReport(name, version, source)
        self.reports[name] = report
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            report.errors.append(f"failed to register: {_describe(exc)}")

    def call_each(self, hook_name: str, make_register: Callable[[str], Callable[..., Any]]) -> None:
        """Call ``hook_name`` on each plugin separately with its own ``register`` callable.

        One plugin raising inside its hook is recorded on its report; the others still run.
        """
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            report = self.reports.setdefault(impl.plugin_name, PluginReport(impl.plugin_name))
            try:
                register = make_register(impl.plugin_name)
                # pluggy lets an implementation omit arguments it does not use.
                impl.function(**{name: register for name in impl.argnames})
            except Exception as exc:
                report.errors.append(f"{hook_name} raised {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
