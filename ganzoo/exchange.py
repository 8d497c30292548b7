"""Export and import of weights files, across backends (docs/weights.md).

A file holds canonical tensors (backend-neutral names and layouts) and a metadata block, so any
plugin that registers ``<family>-<backend>`` loads it: exporting needs no framework at all, and
importing builds the chosen backend's generator through ``Backend.load_generator``. Everything
about a file is checked before anything is registered, and every problem is a typed error.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganzoo.errors import UsageError, WeightsFileError
from ganzoo.store.layout import CONFIG_NAME, SAMPLES_NAME, WEIGHTS_NAME, RunSummary
from ganzoo.training.config import build_config
from ganzoo.weights import PARTS, select_part, write_weights
from ganzoo.weights.generators import build_generator
from ganzoo.weights.loading import CheckedFile, check_file, loader_for, loaders_for

if TYPE_CHECKING:
    from ganzoo.catalog import Catalog, ModelSpec
    from ganzoo.protocols import Generator
    from ganzoo.store import RunStore, VersionRecord

# check_file, loader_for and loaders_for live in ganzoo.weights.loading; kept importable here.
__all__ = ["CheckedFile", "Exported", "Imported", "check_file", "export_version",
           "import_file", "loader_for", "loaders_for"]

PART_CHOICES = ("all", *PARTS)
IMPORT_SAMPLES = 64


@dataclass(frozen=True)
class Exported:
    """What ``export_version`` wrote."""

    path: Path
    record: VersionRecord
    parts: tuple[str, ...]
    values: int
    loaders: tuple[ModelSpec, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Imported:
    """What ``import_file`` registered (``record`` is None for a dry run)."""

    checked: CheckedFile
    spec: ModelSpec
    record: VersionRecord | None
    samples: Path | None
    notes: tuple[str, ...] = ()


# -- export ----------------------------------------------------------------------------------


def _wanted_parts(part: str, available: tuple[str, ...], source: str) -> tuple[str, ...]:
    if part == "all":
        return available
    if part not in available:
        raise UsageError(f"{source} holds no {part} (only {', '.join(available)}); "
                         f"export --part {available[0]} or --part all")
    return (part,)


def export_version(catalog: Catalog, store: RunStore, ref: str, output: Path, *,
                   part: str = "all", force: bool = False) -> Exported:
    """Write a registered version's weights (all parts, or one) to ``output``.

    The file keeps the version's metadata and adds ``part``, ``parts`` (what it holds) and
    ``exported_from``. It refuses to replace an existing file unless ``force``.
    """
    output = Path(output)
    if part not in PART_CHOICES:
        raise UsageError(f"--part must be one of {', '.join(PART_CHOICES)}, not '{part}'")
    if output.is_dir():
        raise UsageError(f"{output} is a directory; name the file to write, e.g. "
                         f"{output / 'model.safetensors'}")
    if output.exists() and not force:
        raise UsageError(f"{output} already exists; pass --force to overwrite it")
    if not output.parent.is_dir():
        raise UsageError(f"cannot write {output}: the folder {output.parent} does not exist")
    record = store.resolve(ref)
    source = store.verify_weights(record)
    if not source.is_file():
        raise WeightsFileError(f"{record.ref} has no weights file ({source})")
    checked = check_file(catalog, source)
    parts = _wanted_parts(part, checked.parts, record.ref)
    arrays = {k: v for k, v in checked.arrays.items() if k.partition(".")[0] in parts}
    meta = {**checked.meta, "part": part, "parts": list(parts), "exported_from": record.ref}
    write_weights(output, arrays, meta)
    check_file(catalog, output)  # what a colleague will read back must pass every check
    notes = list(checked.notes)
    if record.status != "complete":
        notes.append(f"{record.ref} is {record.status}: these are the weights it was left with")
    return Exported(
        path=output, record=record, parts=parts,
        values=int(sum(v.size for v in arrays.values())),
        loaders=tuple(loaders_for(catalog, checked.card.family)),
        notes=tuple(notes),
    )


# -- import ----------------------------------------------------------------------------------


def _load_checked(checked: CheckedFile, spec: ModelSpec) -> tuple[Generator, list[str]]:
    """The chosen backend's generator (and discriminator, as a check) with the file's weights."""
    if "generator" not in checked.parts:
        raise UsageError(
            f"{checked.path} holds only the discriminator; a version needs the generator "
            "(export it with --part generator or --part all)"
        )
    backend = spec.load_backend()
    notes = []
    generator = build_generator(checked, backend)
    if "discriminator" in checked.parts:
        load_discriminator = getattr(backend, "load_discriminator", None)
        if load_discriminator is None:
            notes.append(f"backend '{spec.backend}' cannot load discriminators; the "
                         "discriminator tensors are kept in the file but were not checked")
        else:
            load_discriminator(checked.recipe, select_part(checked.arrays, "discriminator"))
    else:
        notes.append("the file holds the generator only: sampling works, but the "
                     "discriminator is absent (no scoring of images, no further training)")
    return generator, notes


def _config(checked: CheckedFile, spec: ModelSpec) -> dict[str, Any]:
    """The TrainConfig the weights were trained with, as far as their metadata says (the
    recipe's defaults elsewhere; epochs 0 when the file does not say)."""
    meta = checked.meta
    config = build_config(spec, recipe=checked.recipe.name, data=meta.get("dataset") or None,
                          split=meta.get("split") or "train",
                          batch_size=int(meta.get("batch_size") or 0) or None,
                          seed=int(meta.get("seed") or 0),
                          max_steps=int(meta.get("max_steps") or 0) or None)
    return replace(config, epochs=int(meta.get("epochs") or 0)).to_dict()


def import_file(catalog: Catalog, store: RunStore, path: Path, *, backend: str | None = None,
                seed: int = 0, dry_run: bool = False, steps: int | None = None) -> Imported:
    """Register an exported file as a new version of ``<family>-<backend>``.

    ``backend`` defaults to the one the file was trained with. The file is checked, and the
    chosen backend builds the networks and generates a sample grid, all before anything is
    registered: a bad file leaves the registry untouched. The version folder holds
    ``weights.safetensors`` (metadata's backend and model id updated, ``trained_backend``
    kept), ``config.json`` and ``samples.png``. The version's steps (its budget in
    ``compare``) are ``steps`` when given, else the file's ``steps`` metadata, else 0.
    """
    from ganzoo.images import save_grid
    from ganzoo.noise import draw_noise

    path = Path(path)
    checked = check_file(catalog, path)
    spec = loader_for(catalog, checked.card.family, backend or checked.meta["backend"])
    generator, load_notes = _load_checked(checked, spec)
    recipe = checked.recipe
    noise = draw_noise(recipe.noise, IMPORT_SAMPLES, recipe.latent_dim, seed)
    if recipe.classes is None:
        images = np.asarray(generator.generate(noise))
    else:  # a conditional generator: seeded uniform labels
        from ganzoo.conditioning import uniform_labels

        images = np.asarray(generator.generate(
            noise, uniform_labels(IMPORT_SAMPLES, recipe.classes, seed)))
    if images.shape != (IMPORT_SAMPLES, *recipe.image_shape):
        raise WeightsFileError(f"{spec.model_id} generated images of shape {images.shape[1:]}, "
                               f"not the card's {recipe.image_shape}")
    notes = [*checked.notes, *load_notes]
    if not np.isfinite(images).all():
        notes.append("the generator produces non-finite values: the weights may come from "
                     "a diverged run")
    if dry_run:
        return Imported(checked, spec, None, None, tuple(notes))

    meta = {**checked.meta, "model_id": spec.model_id, "backend": spec.backend,
            "trained_backend": checked.trained_backend, "imported_from": path.name}
    meta.pop("part", None)  # describes the export request, not the version
    config = _config(checked, spec)
    workdir = store.new_workdir()
    try:
        write_weights(workdir / WEIGHTS_NAME, checked.arrays, meta)
        (workdir / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True),
                                           encoding="utf-8")
        save_grid(images, workdir / SAMPLES_NAME)
        record = store.register(workdir, RunSummary(
            model_id=spec.model_id, status="complete", family=spec.family,
            backend=spec.backend, recipe=recipe.name, dataset=config["dataset"],
            split=config["split"], epochs=config["epochs"],
            steps=steps if steps is not None else int(checked.meta.get("steps") or 0),
            seed=config["seed"],
            wall_time_s=0.0, images_per_s=0.0, parent=f"import:{path.name}"))
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)  # no half-written version lingers in work/
        raise
    return Imported(checked, spec, record, record.path / SAMPLES_NAME, tuple(notes))
