"""Ship a measured version as its family's reference weights (``<family>-<backend>@reference``).

    GANZOO_HOME=/path/to/results/store python tools/ship_reference.py sngan-keras@1

The version must be a row of the results table (``registry/results/<data>.csv``, written by
``benchmarks/results.py``): the card's ``[reference]`` table is filled from that row (FID, its
floor, n, budget, protocol) and from the version's own record (seed, epochs), never typed by
hand. The generator is exported and stored as float16 safetensors (half the bytes; readers
get float32) to ``registry/reference/<family>-<sha prefix>.safetensors``; a previous
reference file of the family is removed, and the card's
``[reference]`` table is replaced (it must be the card's last table). A maintainer's tool: it
writes into the repository.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "registry"
MARK = "\n[reference]\n"


def results_row(ref: str, csv_dir: Path, seed: int | None = None,
                epochs: int | None = None) -> dict[str, str]:
    """The results row whose version is ``ref`` (and, given, whose seed and epochs match: refs
    from different stores can coincide); a clear error when none is."""
    for path in sorted(csv_dir.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["ref"] == ref and (seed is None or int(row["seed"]) == seed) and (
                        epochs is None or int(row["epochs"]) == epochs):
                    return row
    raise SystemExit(f"error: no row of {csv_dir}/*.csv has ref {ref}: measure it first with "
                     "benchmarks/results.py (or pass the right GANZOO_HOME)")


def reference_table(row: dict[str, str], file: str, sha256: str, record: object) -> str:
    """The card's ``[reference]`` TOML table for ``row`` and the exported ``file``."""
    model, recipe = row["model"], row["recipe"]
    command = (f"ganzoo train {model} --recipe {recipe} --data {row['dataset']} --split "
               f"{row['split']} --epochs {row['epochs']} --seed {row['seed']}"
               + (f" --max-steps {row['max_steps']}" if row["max_steps"] else ""))
    eval_command = (f"python benchmarks/results.py --data {row['dataset']} --budget-images "
                    f"{row['budget_images']} --seeds {row['seed']} --models {model} -n "
                    f"{row['n']}")
    notes = (f"generator only, stored as float16 (FID measured with the float32 weights); "
             f"protocol {row['protocol_hash']}, class coverage "
             f"{float(row['class_coverage']):.0%}, {float(row['img_per_s']):,.0f} img/s, "
             f"{float(row['train_wall_s']) / 60:.1f} min of training ({record.ref})")
    lines = [f'file = "{file}"', f'sha256 = "{sha256}"', f'model = "{model}"',
             f'recipe = "{recipe}"', f'command = "{command}"', f'eval_command = "{eval_command}"',
             f"budget = {int(row['budget_images'])}", f"n = {int(row['n'])}",
             f"fid = {float(row['fid']):.2f}", f"fid_floor = {float(row['floor_fid']):.2f}",
             f'notes = "{notes}"']
    return MARK + "\n".join(lines) + "\n"


def replace_reference(card_text: str, table: str) -> str:
    """``card_text`` with its ``[reference]`` table (the last table, if any) replaced."""
    head, found, tail = card_text.partition(MARK)
    if found and "\n[" in tail:
        raise SystemExit("error: the card's [reference] table is not its last table: move it "
                         "to the end first")
    return head.rstrip("\n") + "\n" + table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the version to ship, MODEL@N (a results-table row)")
    parser.add_argument("--registry", type=Path, default=REGISTRY)
    args = parser.parse_args(argv)

    import torch  # noqa: F401  (before TensorFlow, always)

    from ganzoo.cli.console import load_catalog
    from ganzoo.exchange import export_version
    from ganzoo.reference_weights import REFERENCE_DIR, file_sha256
    from ganzoo.store import RunStore
    from ganzoo.weights import read_weights, write_weights

    catalog, store = load_catalog(), RunStore()
    record = store.resolve(args.ref)
    row = results_row(record.ref, args.registry / "results", record.seed, record.epochs)
    family = record.family
    card_path = args.registry / f"{family}.toml"
    with tempfile.TemporaryDirectory() as tmp:
        exported = Path(tmp) / "generator.safetensors"
        export_version(catalog, store, record.ref, exported, part="generator")
        arrays, meta = read_weights(exported)
        out = write_weights(Path(tmp) / "half.safetensors", arrays, meta, half=True)
        sha = file_sha256(out)
        name = f"{family}-{sha[:12]}.safetensors"
        target_dir = args.registry / REFERENCE_DIR
        for old in target_dir.glob(f"{family}-*.safetensors"):
            old.unlink()
        shutil.copyfile(out, target_dir / name)
    card_path.write_text(replace_reference(card_path.read_text(encoding="utf-8"),
                                           reference_table(row, name, sha, record)),
                         encoding="utf-8")
    print(f"{record.ref} -> {target_dir / name}; [reference] of {card_path} written "
          f"(FID {float(row['fid']):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
