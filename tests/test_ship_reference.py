"""tools/ship_reference.py: a results row becomes a card's [reference] table that parses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ganzoo.cards import parse_card
from tools.ship_reference import reference_table, replace_reference, results_row

ROOT = Path(__file__).resolve().parents[1]
ROW = {"model": "mlp-torch", "recipe": "seed002", "dataset": "fashion", "split": "train",
       "epochs": "5", "seed": "1", "max_steps": "", "budget_images": "300000", "n": "10000",
       "fid": "25.5648", "floor_fid": "0.11415", "protocol_hash": "c64abe6f1183",
       "class_coverage": "0.8", "img_per_s": "399.1", "train_wall_s": "751.7",
       "ref": "mlp-torch@2"}


def test_the_table_carries_the_rows_figures_and_parses_as_the_cards_reference():
    text = (ROOT / "registry" / "mlp.toml").read_text()
    table = reference_table(ROW, "mlp-0123456789ab.safetensors", "f" * 64,
                            SimpleNamespace(ref="mlp-torch@2"))
    card = parse_card(replace_reference(text, table), "registry/mlp.toml")
    ref = card.reference
    assert ref["file"] == "mlp-0123456789ab.safetensors" and ref["sha256"] == "f" * 64
    assert (ref["fid"], ref["fid_floor"], ref["budget"], ref["n"]) == (25.56, 0.11, 300000,
                                                                       10000)
    assert ref["command"] == ("ganzoo train mlp-torch --recipe seed002 --data fashion --split "
                              "train --epochs 5 --seed 1")
    assert "--budget-images 300000 --seeds 1 --models mlp-torch -n 10000" in ref["eval_command"]
    assert "class coverage 80%" in ref["notes"] and "mlp-torch@2" in ref["notes"]
    assert "stored as float16" in ref["notes"]
    # a capped budget says its --max-steps
    capped = reference_table({**ROW, "max_steps": "625"}, "x.safetensors", "f" * 64,
                             SimpleNamespace(ref="r"))
    assert "--seed 1 --max-steps 625" in capped


def test_replacing_keeps_one_reference_table_and_the_rest_of_the_card():
    text = (ROOT / "registry" / "mlp.toml").read_text()
    once = replace_reference(text, reference_table(ROW, "a.safetensors", "a" * 64,
                                                   SimpleNamespace(ref="r")))
    twice = replace_reference(once, reference_table(ROW, "b.safetensors", "b" * 64,
                                                    SimpleNamespace(ref="r")))
    assert twice.count("[reference]") == 1 and 'file = "b.safetensors"' in twice
    assert twice.partition("\n[reference]\n")[0] == text.partition("\n[reference]\n")[0]
    # a card without one gains it at the end
    bare = text.partition("\n[reference]\n")[0] + "\n"
    assert replace_reference(bare, "\n[reference]\nfile = \"c\"\n").endswith('file = "c"\n')


def test_a_reference_table_that_is_not_last_is_refused():
    text = 'family = "x"\n\n[reference]\nfile = "a"\n\n[[results]]\nmodel = "m"\n'
    with pytest.raises(SystemExit, match="not its last table"):
        replace_reference(text, "\n[reference]\nfile = \"b\"\n")


def test_a_ref_without_a_results_row_names_the_fix(tmp_path):
    (tmp_path / "fashion.csv").write_text(",".join(ROW) + "\n" + ",".join(ROW.values()) + "\n")
    assert results_row("mlp-torch@2", tmp_path)["fid"] == "25.5648"
    assert results_row("mlp-torch@2", tmp_path, seed=1, epochs=5)["fid"] == "25.5648"
    with pytest.raises(SystemExit):  # the same ref from another store: another seed
        results_row("mlp-torch@2", tmp_path, seed=0)
    with pytest.raises(SystemExit, match=r"measure it first with benchmarks/results\.py"):
        results_row("mlp-torch@9", tmp_path)
