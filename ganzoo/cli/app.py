"""The typer application: global options, and the command modules that register on it."""

from __future__ import annotations

import importlib

import typer

from ganzoo import __version__
from ganzoo.cli.help_format import hide_flag_metavars

hide_flag_metavars()  # flags take no value: no "--version <bool>" in --help

app = typer.Typer(
    name="ganzoo",
    help="A plugin-based zoo of small GANs: list, train, compare and export models.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)

# Each module holds one group of commands and exposes register(app).
COMMAND_MODULES = (
    "ganzoo.cli.models_cmd",
    "ganzoo.cli.datasets_cmd",
    "ganzoo.cli.train_cmd",
    "ganzoo.cli.runs_cmd",
    "ganzoo.cli.export_cmd",
    "ganzoo.cli.eval_cmd",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ganzoo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """ganzoo: train, compare and ship small GANs."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)
