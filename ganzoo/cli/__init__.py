"""The ``ganzoo`` command line (typer + rich)."""

from __future__ import annotations


def main() -> None:
    """Console-script entry point."""
    from ganzoo.cli.app import app

    app()
