"""``ganzoo compare``: which model is better, and at what cost, with numbers and pictures.

Picks each model's version on a dataset (training the missing ones with one budget when asked),
evaluates them under one protocol (reusing stored evaluations of the same protocol), and writes a
report folder: report.md, report.json, samples.png (grids side by side, same noise where the
latent spaces match) and losses.png (the training curves overlaid).

Modules: :mod:`.selection` (choosing and training versions), :mod:`.report` (the report model,
ranking and notes), :mod:`.render_table`, :mod:`.render_markdown`, :mod:`.render_images` (the
three renderers) and :mod:`.run` (the whole command, and the report folder).
"""

from ganzoo.compare.render_images import GRID_IMAGES, side_by_side
from ganzoo.compare.render_markdown import LOSSES_NAME, SAMPLES_NAME, markdown
from ganzoo.compare.render_table import rich_table
from ganzoo.compare.report import (
    BEST,
    COLUMNS,
    Column,
    CompareReport,
    Contender,
    build_report,
    mark_best,
    parameter_counts,
)
from ganzoo.compare.run import run_compare, write_report
from ganzoo.compare.selection import (
    choose_version,
    pick_recipe,
    resolve_versions,
    train_for_comparison,
)

__all__ = [
    "BEST",
    "COLUMNS",
    "GRID_IMAGES",
    "LOSSES_NAME",
    "SAMPLES_NAME",
    "Column",
    "CompareReport",
    "Contender",
    "build_report",
    "choose_version",
    "mark_best",
    "markdown",
    "parameter_counts",
    "pick_recipe",
    "resolve_versions",
    "rich_table",
    "run_compare",
    "side_by_side",
    "train_for_comparison",
    "write_report",
]
