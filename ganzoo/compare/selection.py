"""Choosing each model's version for a comparison, and training the missing ones."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ganzoo.cards import Recipe
from ganzoo.catalog import Catalog, ModelSpec
from ganzoo.compare.budget import budget_of
from ganzoo.errors import RegistryError, UsageError
from ganzoo.store import RunStore, VersionRecord, parse_ref
from ganzoo.training.config import build_config, epochs_text


def pick_recipe(spec: ModelSpec, dataset: str) -> Recipe:
    """The card's default recipe when it is for ``dataset``, else its first recipe that is."""
    default = spec.card.recipe()
    if default.dataset == dataset:
        return default
    for recipe in spec.card.recipes.values():
        if recipe.dataset == dataset:
            return recipe
    return default  # trained on ``dataset`` anyway, as 'ganzoo train --data' would


def choose_version(store: RunStore, model_id: str, dataset: str, epochs: int | None,
                   max_steps: int | None = None,
                   split: str | None = None) -> VersionRecord | None:
    """The latest complete version on ``dataset`` for the budget, else the latest such version.

    A budget is ``epochs`` (any when None) with ``max_steps`` per epoch: when ``epochs`` is
    given, a version capped at another number of steps (or capped when no cap is asked) is a
    different budget and is not chosen. ``split`` (when given) keeps versions trained on it.
    """
    versions = [v for v in store.list(model_id, dataset)
                if (epochs is None or (v.epochs == epochs
                                       and budget_of(v).max_steps == max_steps))
                and (split is None or v.split == split)]
    complete = [v for v in versions if v.status == "complete"]
    chosen = complete or versions
    return chosen[-1] if chosen else None


def resolve_versions(catalog: Catalog, store: RunStore, refs: list[str], dataset: str, *,
                     train_missing: bool = False, epochs: int | None = None, seed: int = 0,
                     max_steps: int | None = None, split: str | None = None,
                     data_dir: str | Path | None = None, console: Console | None = None,
                     show_progress: bool = True) -> list[tuple[VersionRecord, bool]]:
    """(version, trained now) for each reference, training missing ones when asked.

    Missing models are trained on ``split`` (default train) for ``epochs``, each epoch capped
    at ``max_steps`` when given: one budget for all.
    """
    if train_missing and epochs is None:
        raise UsageError("--train-missing needs --epochs N, so that every model gets the "
                         "same budget")
    console = console or Console()
    out: list[tuple[VersionRecord, bool]] = []
    for text in refs:
        ref = parse_ref(text)
        spec = catalog.model(ref.model_id)
        if ref.reference:  # the family's shipped weights, imported on first use
            from ganzoo.reference_weights import resolve_reference

            out.append((resolve_reference(store, spec.model_id, catalog), False))
            continue
        if ref.version is not None:
            record = store.resolve(ref)
            if record.dataset != dataset:
                raise UsageError(f"{record.ref} was trained on {record.dataset}, not {dataset}; "
                                 f"pass --data {record.dataset} or another version")
            out.append((record, False))
            continue
        found = choose_version(store, spec.model_id, dataset, epochs, max_steps, split)
        if found is not None:
            out.append((found, False))
            continue
        budget = f" with {epochs_text(epochs)}" if epochs is not None else ""
        budget += f" capped at {max_steps} steps" if epochs is not None and max_steps else ""
        budget += f" on its {split} split" if split else ""
        if not train_missing:
            raise RegistryError(
                f"No trained version of {spec.model_id} on {dataset}{budget}. Train one with "
                f"'ganzoo train {spec.model_id} --data {dataset}', or pass --train-missing "
                "--epochs N to train every missing model with the same budget.")
        out.append((train_for_comparison(catalog, store, spec, dataset, int(epochs or 1), seed,
                                         data_dir, console, show_progress,
                                         split=split or "train", max_steps=max_steps), True))
    seen = [r.ref for r, _ in out]
    if len(set(seen)) != len(seen):
        raise UsageError(f"the same version is named twice: {', '.join(seen)}")
    return out


def train_for_comparison(catalog: Catalog, store: RunStore, spec: ModelSpec, dataset: str,
                         epochs: int, seed: int, data_dir: str | Path | None, console: Console,
                         show_progress: bool, *, split: str = "train",
                         max_steps: int | None = None) -> VersionRecord:
    """Train ``spec`` on ``dataset``/``split`` for ``epochs`` with its recipe's batch size."""
    from ganzoo.training.loop import train

    recipe = pick_recipe(spec, dataset)
    config = build_config(spec, recipe=recipe.name, data=dataset, split=split, epochs=epochs,
                          seed=seed, max_steps=max_steps)
    cap = f" (at most {max_steps} steps each)" if max_steps else ""
    console.rule(f"training {spec.model_id} ({recipe.name}): {epochs_text(epochs)}{cap} on "
                 f"{dataset}/{split}")
    return train(catalog, config, store, data_dir=data_dir, console=console,
                 show_progress=show_progress)


