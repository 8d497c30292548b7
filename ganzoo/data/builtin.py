"""Built-in datasets, registered through the same hook a plugin uses (being written)."""

from ganzoo.hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    pass
