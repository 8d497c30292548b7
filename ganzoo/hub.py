"""The Hugging Face Hub folder layout, written and read offline.

``ganzoo export REF --hub-dir DIR`` writes a folder a user uploads as it is
(``hf upload USER/NAME DIR .``, huggingface_hub's CLI):

- ``model.safetensors``: the canonical weights and metadata, exactly as ``ganzoo export`` writes
  them (docs/weights.md), so any backend that registers the family loads them;
- ``config.json``: family, recipe, the backend-neutral architecture (the card's layer
  vocabulary), noise, image shape, training data and the ganzoo version;
- ``README.md``: a model card whose YAML front matter says ``library_name: ganzoo``, tags, the
  licence of the training data and a ``model-index`` with the version's stored evaluations (each
  metric carries its protocol key and protocol); the body describes the run and shows
- ``samples.png``: the version's fixed-noise sample grid.

``ganzoo import DIR`` and ``ganzoo.load(DIR)`` read it back (:func:`weights_in`). Nothing here
needs huggingface_hub or the network; tests check the card with huggingface_hub's own parser.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo import __version__
from ganzoo.errors import UsageError, WeightsFileError
from ganzoo.training.config import epochs_text

if TYPE_CHECKING:
    from ganzoo.cards import Recipe
    from ganzoo.catalog import Catalog
    from ganzoo.exchange import Exported
    from ganzoo.store import RunStore, VersionRecord

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
SAMPLES_FILE = "samples.png"
LIBRARY = "ganzoo"
PIPELINE_TAG = "unconditional-image-generation"

# Licence names of the dataset specs -> the Hub's licence identifiers.
HUB_LICENCES = {"MIT": "mit", "CC BY-SA 3.0": "cc-by-sa-3.0", "CC BY 4.0": "cc-by-4.0",
                "CC BY-SA 4.0": "cc-by-sa-4.0", "Apache-2.0": "apache-2.0",
                "Apache 2.0": "apache-2.0", "CC0": "cc0-1.0", "CC0 1.0": "cc0-1.0"}

# Scalar results of an evaluation reported in the model-index: key -> name shown on the Hub.
METRIC_NAMES = {"fid": "FID", "kid": "KID", "precision": "precision", "recall": "recall",
                "is": "IS-like (dataset classifier)", "coverage": "class coverage",
                "class_entropy": "class entropy", "class_tv": "class TV to real"}


@dataclass(frozen=True)
class HubFolder:
    """What :func:`export_hub` wrote."""

    folder: Path
    exported: Exported
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()


# -- writing ---------------------------------------------------------------------------------


def export_hub(catalog: Catalog, store: RunStore, ref: str, folder: Path, *,
               force: bool = False) -> HubFolder:
    """Write the Hub folder of the version ``ref`` into ``folder`` (created if missing).

    Refuses a folder that already holds any of the files unless ``force``.
    """
    from ganzoo.exchange import export_version

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--hub-dir {folder} is a file; name a folder to write the model into")
    ours = (WEIGHTS_FILE, CONFIG_FILE, CARD_FILE, SAMPLES_FILE)
    present = [n for n in ours if (folder / n).exists()]
    if present and not force:
        raise UsageError(f"{folder} already holds {', '.join(present)}; pass --force to "
                         "overwrite them")
    folder.mkdir(parents=True, exist_ok=True)
    exported = export_version(catalog, store, ref, folder / WEIGHTS_FILE, force=force)
    record = exported.record
    from ganzoo.weights import read_metadata

    meta = read_metadata(folder / WEIGHTS_FILE)
    recipe = catalog.cards[meta["family"]].recipe(meta["recipe"])
    notes = list(exported.notes)
    files = [WEIGHTS_FILE, CONFIG_FILE, CARD_FILE]
    if (record.path / SAMPLES_FILE).is_file():
        shutil.copyfile(record.path / SAMPLES_FILE, folder / SAMPLES_FILE)
        files.append(SAMPLES_FILE)
    else:
        (folder / SAMPLES_FILE).unlink(missing_ok=True)
        notes.append(f"{record.ref} has no sample grid ({record.status}); the card shows none")
    config = hub_config(meta, recipe, record)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n",
                                      encoding="utf-8")
    (folder / CARD_FILE).write_text(model_card(catalog, record, config,
                                               samples=SAMPLES_FILE in files), encoding="utf-8")
    return HubFolder(folder, exported, tuple(files), tuple(notes))


def architecture(recipe: Recipe) -> dict[str, Any]:
    """The recipe's networks in the backend-neutral layer vocabulary (as the card writes them)."""
    return {net: {"input_shape": list(spec.input_shape),
                  "layers": [{"type": layer.kind, **layer.options} for layer in spec.layers]}
            for net, spec in (("generator", recipe.generator),
                              ("discriminator", recipe.discriminator))}


def hub_config(meta: dict[str, Any], recipe: Recipe, record: VersionRecord) -> dict[str, Any]:
    """The ``config.json`` of a Hub folder."""
    return {
        "library_name": LIBRARY,
        "ganzoo_version": __version__,
        "weights": WEIGHTS_FILE,
        "model_id": record.model_id,
        "exported_from": record.ref,
        "family": meta["family"],
        "recipe": meta["recipe"],
        "trained_backend": meta.get("trained_backend") or meta["backend"],
        "latent_dim": meta["latent_dim"],
        "noise": meta["noise"],
        "image_shape": meta["image_shape"],
        "value_range": meta.get("value_range", [-1.0, 1.0]),
        "layout": meta.get("layout", "NHWC"),
        "parts": meta["parts"],
        "dataset": record.dataset,
        "split": record.split,
        "epochs": record.epochs,
        "steps": record.steps,
        "seed": record.seed,
        "status": record.status,
        "card_sha256": meta.get("card_sha256"),
        "parameter_counts": recipe.parameter_counts(),
        "architecture": architecture(recipe),
    }


def hub_licence(licence: str) -> dict[str, str]:
    """Front-matter licence keys for a dataset licence name (``other`` plus its name if unknown)."""
    if licence in HUB_LICENCES:
        return {"license": HUB_LICENCES[licence]}
    slug = "-".join(licence.lower().replace("/", " ").split()) or "unknown"
    return {"license": "other", "license_name": slug}


def model_index(record: VersionRecord, dataset_title: str) -> list[dict[str, Any]]:
    """The ``model-index`` of the version's stored evaluations, one result per protocol."""
    from ganzoo.metrics.protocol import protocol_key

    results = []
    for stored in record.evaluations:
        protocol, values = stored["protocol"], stored["results"]
        key = protocol_key(protocol)
        metrics = [{"type": name, "value": float(values[name]), "name": label, "config": key,
                    "args": protocol_summary(protocol), "verified": False}
                   for name, label in METRIC_NAMES.items()
                   if isinstance(values.get(name), (int, float))]
        if metrics:
            results.append({
                "task": {"type": PIPELINE_TAG, "name": "Unconditional image generation"},
                "dataset": {"type": protocol.get("dataset", record.dataset),
                            "name": dataset_title,
                            "split": protocol.get("real_split", "test")},
                "metrics": metrics,
            })
    return [{"name": record.model_id, "results": results}] if results else []


def protocol_summary(protocol: dict[str, Any]) -> dict[str, Any]:
    """What each model-index metric carries of its protocol (the card's body has it whole)."""
    extractor = protocol.get("extractor") or {}
    return {"n": protocol.get("n"), "seed": protocol.get("seed"),
            "real_split": protocol.get("real_split"), "real_n": protocol.get("real_n"),
            "extractor": extractor.get("name"), "extractor_sha256": extractor.get("sha256")}


def model_card(catalog: Catalog, record: VersionRecord, config: dict[str, Any], *,
               samples: bool = True) -> str:
    """The ``README.md`` of a Hub folder: YAML front matter, then the card's text."""
    from ganzoo.metrics.protocol import describe, protocol_key

    spec = catalog.datasets.get(record.dataset)
    title = getattr(spec, "title", record.dataset)
    licence = getattr(spec, "licence", "unknown")
    front: dict[str, Any] = {
        "library_name": LIBRARY,
        "pipeline_tag": PIPELINE_TAG,
        "tags": ["ganzoo", "gan", "safetensors", config["family"],
                 f"{config['family']}-{config['recipe']}", record.dataset],
        **hub_licence(licence),
    }
    index = model_index(record, title)
    if index:
        front["model-index"] = index
    card = catalog.cards.get(config["family"])
    lines = ["---", to_yaml(front).rstrip("\n"), "---", "",
             f"# {record.model_id}: {card.title if card else config['family']}", ""]
    if card is not None and card.description:
        lines += [card.description.strip(), ""]
    lines += [
        f"A generator trained with ganzoo "
        f"({config['trained_backend']} backend, exported from `{record.ref}`). The weights "
        f"({WEIGHTS_FILE}) are ganzoo's canonical safetensors layout: any ganzoo backend "
        f"that implements the `{config['family']}` family loads them.", "",
        "## Use", "",
        "```python",
        "import ganzoo",
        "",
        'g = ganzoo.load("path/to/this/folder")  # after hf download',
        "images = g.sample(16, seed=0)            # uint8, (16, H, W, C)",
        'g.grid(64).save("samples.png")',
        "```", "",
        "Or register it: `ganzoo import path/to/this/folder`.", "",
        "## Training", "",
        f"- recipe: `{config['recipe']}`; latent: {config['latent_dim']} ({config['noise']} "
        f"noise); images {tuple(config['image_shape'])} in [-1, 1]",
        f"- data: {title}, split `{record.split}` "
        + (f"({spec.homepage}); " if getattr(spec, "homepage", "") else "; ")
        + f"licence {licence} (the card's `license` is the training data's)",
        f"- {epochs_text(int(config['epochs']))}, "
        f"{config['steps']} steps, seed {config['seed']}, status "
        f"{config['status']}",
        f"- ganzoo {config['ganzoo_version']}", "",
    ]
    if record.evaluations:
        lines += ["## Evaluations", "",
                  "| protocol | " + " | ".join(METRIC_NAMES.values()) + " |",
                  "|---" * (len(METRIC_NAMES) + 1) + "|"]
        for stored in record.evaluations:
            values = stored["results"]
            cells = [f"{values[k]:.4g}" if isinstance(values.get(k), (int, float)) else "-"
                     for k in METRIC_NAMES]
            lines.append(f"| {describe(stored['protocol'])} | " + " | ".join(cells) + " |")
        lines += ["", "Each evaluation's protocol (its key is the metrics' `config` in the "
                  "front matter; numbers are comparable only under the same key):", ""]
        for stored in record.evaluations:
            comparable = {k: v for k, v in stored["protocol"].items() if k != "real_source"}
            lines += [f"- `{protocol_key(stored['protocol'])}`:", "",
                      "```json", json.dumps(comparable, indent=2, sort_keys=True), "```", ""]
    if samples:
        lines += ["## Samples", "", f"![fixed-noise samples]({SAMPLES_FILE})", ""]
    return "\n".join(lines)


def to_yaml(value: Any, indent: int = 0) -> str:
    """A small YAML writer for front matter: mappings, lists, and JSON-quoted scalars."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append(f"{pad}{key}:\n{to_yaml(item, indent + 2)}")
            else:
                out.append(f"{pad}{key}: {_scalar(item)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            text = to_yaml(item, indent + 2)
            out.append(f"{pad}- {text[indent + 2:]}")  # the first line follows the dash
        return "".join(out)
    return f"{pad}{_scalar(value)}\n"


def _scalar(value: Any) -> str:
    if isinstance(value, (dict, list)):  # empty ones
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(str(value))  # a JSON string is a valid YAML double-quoted scalar


# -- reading ---------------------------------------------------------------------------------


def is_hub_folder(path: Path) -> bool:
    """Whether ``path`` is a folder holding a Hub layout's weights and config."""
    path = Path(path)
    return path.is_dir() and (path / WEIGHTS_FILE).is_file() and (path / CONFIG_FILE).is_file()


def read_config(folder: Path) -> dict[str, Any]:
    """The folder's ``config.json``; a typed error says what is missing or wrong."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise WeightsFileError(f"{folder} has no {CONFIG_FILE}: not a ganzoo Hub folder "
                               "(write one with 'ganzoo export REF --hub-dir DIR')")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise WeightsFileError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("library_name") != LIBRARY:
        raise WeightsFileError(f"{path} does not say library_name: {LIBRARY}; it was not "
                               "written by ganzoo")
    return config


def weights_in(folder: Path) -> Path:
    """The weights file of a Hub folder, after checking its config agrees with it."""
    from ganzoo.weights import read_metadata

    folder = Path(folder)
    config = read_config(folder)
    weights = folder / config.get("weights", WEIGHTS_FILE)
    if not weights.is_file():
        raise WeightsFileError(f"{folder} has no {weights.name}: download the whole folder")
    meta = read_metadata(weights)
    for key in ("family", "recipe"):
        if config.get(key) != meta.get(key):
            raise WeightsFileError(f"{folder}: {CONFIG_FILE} says {key} = {config.get(key)!r}, "
                                   f"the weights say {meta.get(key)!r}")
    return weights
