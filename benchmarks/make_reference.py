"""Ship a results-table run's generator as its family's reference weights.

    python benchmarks/make_reference.py --csv registry/results/fashion.csv --model mlp-torch \\
        [--budget 300000] [--write-card]

Picks the model's best-FID row in the results CSV (optionally at one budget), exports that
version's generator (``ganzoo export --part generator``) to
``registry/reference/<family>-<sha12>.safetensors`` and prints the card's ``[reference]`` table
(file, sha256, the command that trained it, budget, FID at n and the floor); ``--write-card``
appends it to ``registry/<family>.toml`` (replacing an earlier ``[reference]`` there is left to
a person). Run it on the machine whose store (``$GANZOO_HOME``) holds the row's version.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = ROOT / "registry" / "reference"


def train_command(row: dict[str, str]) -> str:
    """The ``ganzoo train`` command equivalent to the row's run."""
    cmd = (f"ganzoo train {row['model']} --recipe {row['recipe']} --data {row['dataset']} "
           f"--split {row['split']} --epochs {row['epochs']} --seed {row['seed']}")
    if row.get("max_steps"):
        cmd += f" --max-steps {row['max_steps']}"
    return cmd


def reference_table(row: dict[str, str], file: str, sha256: str) -> str:
    """The card's ``[reference]`` table for the row's run."""
    results = (f"python benchmarks/results.py --data {row['dataset']} --budget-images "
               f"{row['budget_images']} --seeds {row['seed']} --models {row['model']} "
               f"-n {row['n']}")
    return "\n".join([
        "", "[reference]",
        f'file = "{file}"',
        f'sha256 = "{sha256}"',
        f'model = "{row["model"]}"',
        f'recipe = "{row["recipe"]}"',
        f'command = "{train_command(row)}"',
        f'eval_command = "{results}"',
        f"budget = {int(row['images_seen'])}",
        f"n = {int(row['n'])}",
        f"fid = {float(row['fid']):.2f}",
        f"fid_floor = {float(row['floor_fid']):.2f}",
        f'notes = "generator only, float32; protocol {row["protocol_hash"]}, class coverage '
        f'{float(row["class_coverage"]):.0%}, {float(row["img_per_s"]):.0f} img/s on a shared '
        'CPU"',
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", type=Path, default=ROOT / "registry" / "results" / "fashion.csv")
    p.add_argument("--model", required=True)
    p.add_argument("--budget", type=int, default=None)
    p.add_argument("--write-card", action="store_true")
    a = p.parse_args(argv)

    import torch  # noqa: F401  - before TensorFlow

    from ganzoo.cli.console import load_catalog
    from ganzoo.exchange import export_version
    from ganzoo.reference_weights import file_sha256
    from ganzoo.store import RunStore

    with a.csv.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["model"] == a.model
                and (a.budget is None or int(r["budget_images"]) == a.budget)]
    if not rows:
        print(f"error: no row of {a.model} in {a.csv}", file=sys.stderr)
        return 2
    best = min(rows, key=lambda r: float(r["fid"]))
    catalog = load_catalog()
    family = catalog.model(a.model).family
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "generator.safetensors"
        export_version(catalog, RunStore(), best["ref"], out, part="generator")
        sha = file_sha256(out)
        name = f"{family}-{sha[:12]}.safetensors"
        shutil.copyfile(out, REFERENCE_DIR / name)
    table = reference_table(best, name, sha)
    print(table)
    print(f"# {REFERENCE_DIR / name}: {(REFERENCE_DIR / name).stat().st_size / 1e6:.1f} MB")
    if a.write_card:
        card = ROOT / "registry" / f"{family}.toml"
        if "\n[reference]" in card.read_text(encoding="utf-8"):
            print(f"error: {card} already has a [reference]; edit it by hand", file=sys.stderr)
            return 2
        with card.open("a", encoding="utf-8") as handle:
            handle.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
