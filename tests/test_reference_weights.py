"""MODEL@reference: a card's shipped generator, sha256-checked, imported once, both backends.

A plugin card (the mlp card renamed ``mlpref``) in a temporary folder ships a generator
exported from a freshly built torch network; the built-in cards' own references are checked
through the CLI in test_builtin_references_sample_offline.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None
                                or importlib.util.find_spec("keras") is None,
                                reason="needs torch and keras")

REGISTRY = Path(__file__).resolve().parents[1] / "registry"


def _card_text(reference: str, family: str = "mlpref") -> str:
    text = (REGISTRY / "mlp.toml").read_text(encoding="utf-8")
    text = text.replace('family = "mlp"', f'family = "{family}"', 1)
    return text.split("\n[reference]")[0] + reference


class RefPlugin:
    """The mlpref card (and mlpnoref, the same without a [reference]) on both backends."""

    def __init__(self, card: Path) -> None:
        self.card = card
        self.other = card.parent / "mlpnoref.toml"
        self.other.write_text(_card_text("", "mlpnoref"), encoding="utf-8")

    def register_cards(self, register):
        register(self.card)
        register(self.other)

    def register_models(self, register):
        for family in ("mlpref", "mlpnoref"):
            for backend, factory, requires in (
                    ("torch", "ganzoo_torch.backend:create_backend", ("torch",)),
                    ("keras", "ganzoo_keras.backend:create_backend", ("keras", "tensorflow"))):
                register(family=family, backend=backend, factory=factory, requires=requires)


def _generator_file(catalog, path: Path) -> None:
    """A generator-only weights file of mlpref, as make_reference.py writes one."""
    import torch  # noqa: F401 - before TensorFlow

    from ganzoo.training.config import build_config
    from ganzoo.training.loop import weights_metadata
    from ganzoo.weights import write_weights

    spec = catalog.model("mlpref-torch")
    config = build_config(spec, data="fashion", epochs=1, seed=0)
    rng = np.random.default_rng(0)
    shapes = spec.load_backend().create_trainer(
        spec.card.recipe(None), config,
        rng.integers(0, 255, (64, 28, 28, 1), dtype=np.uint8)).weights()
    arrays = {k: (rng.standard_normal(v.shape) * 0.05).astype(np.float32)
              if k.endswith("weight") else v
              for k, v in shapes.items() if k.startswith("generator.")}
    meta = {**weights_metadata(spec, config, 1), "parts": ["generator"], "part": "generator"}
    write_weights(path, arrays, meta)


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """(catalog, store, card path, weights path) with a valid [reference]."""
    from ganzoo.catalog import Catalog
    from ganzoo.hookspecs import hookimpl
    from ganzoo.reference_weights import file_sha256
    from ganzoo.store import RunStore

    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    hookimpl(RefPlugin.register_cards)
    hookimpl(RefPlugin.register_models)
    folder = tmp_path / "cards"
    (folder / "reference").mkdir(parents=True)
    card = folder / "mlpref.toml"
    card.write_text(_card_text(""), encoding="utf-8")
    catalog = Catalog.load(entry_points=False, extra=[("ref", RefPlugin(card))])
    weights = folder / "reference" / "mlpref-test.safetensors"
    _generator_file(catalog, weights)
    card.write_text(_card_text(
        f'\n[reference]\nfile = "{weights.name}"\nsha256 = "{file_sha256(weights)}"\n'
        'command = "ganzoo train mlpref-torch --epochs 1"\nbudget = 60000\nfid = 99.5\n'),
        encoding="utf-8")
    catalog = Catalog.load(entry_points=False, extra=[("ref", RefPlugin(card))])
    return catalog, RunStore(tmp_path / "home"), card, weights


def test_parse_ref_reference():
    from ganzoo.store import parse_ref

    ref = parse_ref("dcgan-torch@reference")
    assert ref.reference and ref.model_id == "dcgan-torch" and ref.version is None
    assert str(ref) == "dcgan-torch@reference"
    assert not parse_ref("dcgan-torch@latest").reference


def test_reference_loads_on_both_backends_once(shipped):
    from ganzoo.reference_weights import resolve_reference
    from ganzoo.sampling import load_generator_from_file
    from ganzoo.weights import WEIGHTS_NAME

    catalog, store, _, weights = shipped
    assert catalog.cards["mlpref"].reference["fid"] == 99.5
    torch_record = resolve_reference(store, "mlpref-torch", catalog)
    keras_record = resolve_reference(store, "mlpref-keras", catalog)
    assert (torch_record.model_id, keras_record.model_id) == ("mlpref-torch", "mlpref-keras")
    assert torch_record.parent == f"import:{weights.name}"
    # its budget is the card's (60,000 images at the recipe's batch), not 0 steps
    batch = catalog.cards["mlpref"].recipe(None).batch_size
    assert torch_record.steps == keras_record.steps == 60000 // batch
    # a second use finds the imported version instead of importing again
    assert resolve_reference(store, "mlpref-torch", catalog).ref == torch_record.ref
    assert len(store.list("mlpref-torch")) == 1
    noise = np.random.default_rng(1).standard_normal((4, 100)).astype(np.float32)
    made = []
    for record in (torch_record, keras_record):
        generator, meta = load_generator_from_file(catalog, record.path / WEIGHTS_NAME)
        assert meta["backend"] == record.backend
        made.append(np.asarray(generator.generate(noise)))
    assert made[0].shape == (4, 28, 28, 1)
    np.testing.assert_allclose(made[0], made[1], atol=1e-4)


def test_store_resolve_routes_at_reference(shipped, monkeypatch):
    import ganzoo.reference_weights as rw

    catalog, store, _, _ = shipped
    seen = []
    real = rw.resolve_reference

    def spy(store_, model_id, catalog_=None):
        seen.append(model_id)
        return real(store_, model_id, catalog)

    monkeypatch.setattr(rw, "resolve_reference", spy)
    record = store.resolve("mlpref-keras@reference")
    assert seen == ["mlpref-keras"] and record.model_id == "mlpref-keras"


def test_changed_file_is_refused(shipped):
    from ganzoo.errors import IntegrityError
    from ganzoo.reference_weights import resolve_reference

    catalog, store, _, weights = shipped
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256"):
        resolve_reference(store, "mlpref-torch", catalog)
    assert store.list("mlpref-torch") == []
    weights.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        resolve_reference(store, "mlpref-torch", catalog)


def test_family_without_reference_is_a_clear_error(shipped):
    from ganzoo.errors import UnknownVersionError
    from ganzoo.reference_weights import resolve_reference

    catalog, store, _, _ = shipped
    with pytest.raises(UnknownVersionError, match="ships no reference weights") as caught:
        resolve_reference(store, "mlpnoref-torch", catalog)
    assert re.search(r"Families with them: [^.]*\bmlpref\b", str(caught.value))
    assert "mlpnoref," not in str(caught.value)


@pytest.mark.parametrize(("table", "message"), [
    ('file = "x.bin"\nsha256 = "{sha}"\ncommand = "c"\nbudget = 1\nfid = 1.0', "file"),
    ('file = "../x.safetensors"\nsha256 = "{sha}"\ncommand = "c"\nbudget = 1\nfid = 1.0',
     "file"),
    ('file = "x.safetensors"\nsha256 = "abc"\ncommand = "c"\nbudget = 1\nfid = 1.0', "sha256"),
    ('file = "x.safetensors"\nsha256 = "{sha}"\nbudget = 1\nfid = 1.0', "command"),
    ('file = "x.safetensors"\nsha256 = "{sha}"\ncommand = "c"\nbudget = 1\nfid = -2',
     "fid"),
    ('file = "x.safetensors"\nsha256 = "{sha}"\ncommand = "c"\nbudget = 1\nfid = 1.0\n'
     'colour = "red"', "colour"),
])
def test_card_reference_table_is_validated(table, message):
    from ganzoo.cards import parse_card
    from ganzoo.errors import CardError

    text = _card_text("\n[reference]\n" + table.replace("{sha}", "a" * 64) + "\n")
    with pytest.raises(CardError, match=message):
        parse_card(text, "mlpref.toml")
    ok = parse_card(_card_text(f'\n[reference]\nfile = "x.safetensors"\nsha256 = "{"a" * 64}"'
                               '\ncommand = "c"\nbudget = 1\nfid = 1.0\n'), "mlpref.toml")
    assert ok.reference["file"] == "x.safetensors"
    assert parse_card(_card_text(""), "mlpref.toml").reference is None


def test_builtin_references_sample_offline(cli, builtin_plugins, tmp_path, monkeypatch):
    """Every built-in card's [reference] samples through the CLI on both backends, offline,
    from an empty store; the shipped file's sha256 is the card's."""
    from ganzoo.cli.console import load_catalog
    from ganzoo.reference_weights import file_sha256, reference_path

    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    cards = [c for c in load_catalog().cards.values() if c.reference is not None]
    assert any(c.family == "mlp" for c in cards)
    for card in cards:
        assert file_sha256(reference_path(card)) == card.reference["sha256"]
        for backend in ("torch", "keras"):
            out = tmp_path / f"{card.family}-{backend}.png"
            done = cli("sample", f"{card.family}-{backend}@reference", "-n", "16", "-o", str(out))
            assert done.exit_code == 0, done.output
            assert out.stat().st_size > 0


def test_compare_takes_references_offline(cli, builtin_plugins, tmp_path, monkeypatch):
    """``ganzoo compare A@reference B@reference`` imports each family's shipped weights and
    compares them, on a fresh store, offline (issue 14's promise)."""
    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    out = tmp_path / "report"
    done = cli("compare", "mlp-torch@reference", "wgangp-keras@reference", "--data", "fashion",
               "--split", "bundled-test", "-n", "100", "-o", str(out))
    assert done.exit_code == 0, done.output
    assert "mlp-torch@1" in done.output and "wgangp-keras@1" in done.output
    assert (out / "samples.png").stat().st_size > 0
    from ganzoo.store import RunStore

    parents = {r.model_id: r.parent for r in RunStore(tmp_path / "home").list()}
    assert parents["mlp-torch"].startswith("import:mlp-")
    assert parents["wgangp-keras"].startswith("import:wgangp-")
