"""The comparison as report.md."""

from __future__ import annotations

import json

from ganzoo import __version__
from ganzoo.compare.cells import UNEQUAL, floor_cells, floor_label, row_cells
from ganzoo.compare.report import BEST, COLUMNS, CompareReport
from ganzoo.metrics.protocol import describe

SAMPLES_NAME = "samples.png"
LOSSES_NAME = "losses.png"


def markdown(report: CompareReport) -> str:
    """report.md: the table, the protocol, the floor, the pictures and the notes."""
    heads = ["model", "backend", *[c.title for c in COLUMNS]]
    lines = [f"# ganzoo compare on {report.dataset}", "",
             f"{report.created}, ganzoo {__version__}.", "",
             "| " + " | ".join(heads) + " |",
             "|" + "|".join(["---", "---"] + ["---:"] * len(COLUMNS)) + "|"]
    for c in report.contenders:
        cells = row_cells(report, c, lambda t: f"**{t}** {BEST}")
        lines.append(f"| {c.record.ref} | {c.record.backend} | " + " | ".join(cells) + " |")
    if report.floor and report.comparable:
        lines.append(f"| *{floor_label(report)}* | | " + " | ".join(floor_cells(report)) + " |")
    lines += ["", f"{BEST} marks the best value of each ranked column. img/s and wall are the "
              "training run's own records (throughput and training time); images seen is the "
              "training budget (steps x batch size)."]
    if not report.equal_budgets:
        lines += ["", f"**{UNEQUAL} Unequal budgets**: the rows saw different numbers of "
                  "training images, so this is not a comparison at one budget (see the notes)."]
    protocol = report.protocol or {}
    if str(protocol.get("real_split", "")).startswith("bundled-"):
        lines += ["", f"Reference and real floor: {protocol.get('dataset')}/"
                  f"{protocol.get('real_split')}, the copy shipped with ganzoo."]
    lines += ["", "## Protocol", ""]
    if report.comparable and report.protocol:
        lines += [describe(report.protocol) + ".", "", "```json",
                  json.dumps(report.protocol, indent=2, sort_keys=True), "```"]
    else:
        lines.append("The rows were measured under different protocols; see report.json. "
                     "Metric columns are not ranked.")
    if report.floor:
        f = report.floor
        lines += ["", "## Real-vs-real floor", "",
                  f"{f.get('method', '')}: FID {f.get('fid', float('nan')):.2f}, "
                  f"KID×10³ {f.get('kid', float('nan')) * 1e3:.2f}, "
                  f"precision {f.get('precision', float('nan')):.3f}, "
                  f"recall {f.get('recall', float('nan')):.3f}, "
                  f"density {f.get('density', float('nan')):.3f}, "
                  f"k-NN coverage {f.get('knn_coverage', float('nan')):.3f}, "
                  f"IS-like {f.get('is', float('nan')):.2f}, "
                  f"class coverage {f.get('coverage', float('nan')):.0%}. "
                  "This is what real images score: a model's FID is only meaningful on this "
                  "scale."]
    lines += ["", "## Models", ""]
    for c in report.contenders:
        r = c.record
        budget = c.budget.describe() if c.budget else f"{r.epochs} epochs / {r.steps:,} steps"
        lines.append(f"- **{r.ref}** ({r.status}): family {r.family}, backend {r.backend}, "
                     f"recipe {r.recipe}, {budget} on "
                     f"{r.dataset}/{r.split}" + (", trained for this comparison"
                                                 if c.trained_now else "")
                     + f"; folder `{r.path}`.")
        if c.evaluation:
            res = c.evaluation.results
            hist = res.get("class_histogram")
            if hist:
                lines.append(f"  predicted classes of its {sum(hist):,} images: {hist} "
                             f"(entropy {res.get('class_entropy', 0):.2f} of 1)")
    if SAMPLES_NAME in report.files:
        lines += ["", "## Samples", "", f"![samples]({SAMPLES_NAME})", "",
                  report.files.get("samples_note", "")]
    if LOSSES_NAME in report.files:
        lines += ["", "## Training curves", "", f"![losses]({LOSSES_NAME})"]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    return "\n".join(lines).rstrip() + "\n"


