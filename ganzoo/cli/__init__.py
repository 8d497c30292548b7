"""The ``ganzoo`` command line (typer + rich)."""

from __future__ import annotations

import signal


def _ignore_late_signals() -> None:
    """Once a command has finished, a Ctrl-C (or SIGTERM) has nothing left to stop: ignore it
    while the interpreter tears down, where it would only print an 'Exception ignored'
    traceback from some finaliser (a second Ctrl-C just after an interrupted run registered)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except ValueError:  # not the main thread: leave the handlers alone
            return


def main() -> None:
    """Console-script entry point."""
    from ganzoo.cli.app import app

    try:
        app()
    finally:
        _ignore_late_signals()
