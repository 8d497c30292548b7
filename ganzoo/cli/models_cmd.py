"""``ganzoo list``, ``ganzoo info`` and ``ganzoo plugins``."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from ganzoo.cli.console import console, err_console, guarded, load_catalog, print_json, width
from ganzoo.errors import GanzooError
from ganzoo.tables import fit_table


def _fmt(n: int) -> str:
    return f"{n:,}"


@guarded
def list_models(
    pattern: str = typer.Argument("*", help="Shell-style filter on model ids, e.g. 'dcgan-*'."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table "
                                 "(schema: docs/cli-json.md)."),
) -> None:
    """Every registered model, with its backend, plugin, parameter counts and status."""
    catalog = load_catalog()
    if as_json:
        print_json([_model_json(spec) for spec in catalog.list_models(pattern)])
        return
    table = Table(title="ganzoo models", title_justify="left")
    for col in ("model id", "family", "backend", "plugin"):
        table.add_column(col)
    table.add_column("G params", justify="right")
    table.add_column("D params", justify="right")
    table.add_column("installed")
    for spec in catalog.list_models(pattern):
        counts = spec.card.recipe().parameter_counts()
        g = counts["generator_trainable"] + counts["generator_non_trainable"]
        d = counts["discriminator_trainable"] + counts["discriminator_non_trainable"]
        status = Text("yes", style="green") if spec.installed else Text(
            f"no: {spec.install_hint}" if spec.install_hint else "no", style="yellow")
        table.add_row(spec.model_id, spec.family, spec.backend, spec.plugin, _fmt(g), _fmt(d),
                      status)
    # The id names family and backend: what is left out first at narrow widths.
    fit_table(table, width(), whole=("model id",),
              drop=("plugin", "family", "backend", "D params", "G params"))
    console.print(table)
    broken = [r for r in catalog.plugin_reports if not r.ok]
    if broken:
        names = ", ".join(r.name for r in broken)
        console.print(f"[yellow]warning:[/] plugin problems in {names}: see 'ganzoo plugins'.")


def _counts(recipe: Any) -> dict[str, int]:
    counts = recipe.parameter_counts()
    return {"generator": counts["generator_trainable"] + counts["generator_non_trainable"],
            "discriminator": counts["discriminator_trainable"]
            + counts["discriminator_non_trainable"]}


def _model_json(spec: Any) -> dict[str, Any]:
    """One model of 'ganzoo list --json' (docs/cli-json.md)."""
    return {"model_id": spec.model_id, "family": spec.family, "backend": spec.backend,
            "plugin": spec.plugin, "params": _counts(spec.card.recipe()),
            "installed": bool(spec.installed), "install_hint": spec.install_hint or None}


def _info_json(spec: Any) -> dict[str, Any]:
    """'ganzoo info --json': the model, its card's provenance and every recipe."""
    card = spec.card
    recipes = []
    for r in card.recipes.values():
        recipes.append({
            "name": r.name, "default": r.name == card.default_recipe, "dataset": r.dataset,
            "latent_dim": r.latent_dim, "noise": r.noise, "batch_size": r.batch_size,
            "epochs": r.epochs, "step": r.step, "seed_document": r.seed_document,
            "optimizers": {k: {"name": o.name, "settings": dict(o.settings)}
                           for k, o in r.optimizers.items()},
            "params": r.parameter_counts(),
        })
    return {**_model_json(spec), "title": card.title, "description": card.description,
            "card": str(card.source), "default_recipe": card.default_recipe,
            "provenance": dict(card.provenance), "recipes": recipes}


@guarded
def info(
    model_id: str = typer.Argument(..., help="A model id such as dcgan-torch."),
    recipe: str = typer.Option(None, "--recipe", "-r", help="Show this recipe's layers."),
    layers: bool = typer.Option(True, help="Build the networks and show a layer summary."),
    as_json: bool = typer.Option(False, "--json", help="Print the card and its recipes as JSON "
                                 "(schema: docs/cli-json.md)."),
) -> None:
    """A model's card, its recipes, and a layer-by-layer summary built by its backend."""
    catalog = load_catalog()
    spec = catalog.model(model_id)
    card = spec.card
    chosen = card.recipe(recipe)
    if as_json:
        print_json(_info_json(spec))
        return
    console.print(f"[bold]{spec.model_id}[/] — {card.title}")
    console.print(f"family [cyan]{card.family}[/], backend [cyan]{spec.backend}[/] "
                  f"(plugin {spec.plugin}), card {card.source}")
    # The card's line breaks are the TOML file's; the terminal wraps at its own width.
    console.print(" ".join(card.description.split()), highlight=False)
    prov = card.provenance
    console.print(f"\n[bold]Provenance[/]: {prov.get('source', '')}", highlight=False)
    for item in prov.get("inferred", []):
        console.print(f"  [dim]inferred:[/] {item}", highlight=False)
    for item in prov.get("departures", []):
        console.print(f"  [dim]departs:[/] {item}", highlight=False)

    rt = Table(title="Recipes", title_justify="left")
    for col in ("recipe", "seed", "data", "latent", "noise", "batch", "epochs", "step",
                "G optimiser", "D optimiser"):
        rt.add_column(col)
    for r in card.recipes.values():
        name = f"{r.name} (default)" if r.name == card.default_recipe else r.name
        opt = {k: f"{o.name} " + ", ".join(f"{s}={v:g}" for s, v in o.settings.items())
               for k, o in r.optimizers.items()}
        rt.add_row(name, r.seed_document.split("_")[0], r.dataset, str(r.latent_dim), r.noise,
                   str(r.batch_size), str(r.epochs), r.step, opt["generator"],
                   opt["discriminator"])
    fit_table(rt, width(), whole=("recipe",),
              drop=("seed", "step", "noise", "latent", "epochs", "batch", "data"))
    console.print(rt)
    counts = chosen.parameter_counts()
    console.print(
        f"Expected parameters ({chosen.name}): generator {_fmt(counts['generator_trainable'])} "
        f"trainable + {_fmt(counts['generator_non_trainable'])} non-trainable; discriminator "
        f"{_fmt(counts['discriminator_trainable'])} trainable + "
        f"{_fmt(counts['discriminator_non_trainable'])} non-trainable.")
    if not layers:
        return
    try:
        rows = spec.load_backend().summary(chosen)
        built_by = spec.backend
    except GanzooError as exc:
        console.print(f"[yellow]{exc}[/] Showing the card's own layer arithmetic instead.")
        rows = None
        built_by = "card (no framework)"
    lt = Table(title=f"Layers ({chosen.name}, built by {built_by})", title_justify="left")
    for col in ("network", "layer", "output shape"):
        lt.add_column(col)
    lt.add_column("trainable", justify="right")
    lt.add_column("non-trainable", justify="right")
    if rows is not None:
        for row in rows:
            shape = "(" + ",".join("None" if s is None else str(s) for s in row.output_shape) + ")"
            lt.add_row(row.network, f"{row.name}\n({row.kind})", shape, _fmt(row.trainable),
                       _fmt(row.non_trainable))
    else:
        for net_name, net in (("generator", chosen.generator),
                              ("discriminator", chosen.discriminator)):
            for row in net.summary():
                lt.add_row(net_name, f"{row.index} ({row.kind})",
                           str((None, *row.output_shape)).replace(" ", ""), _fmt(row.trainable),
                           _fmt(row.non_trainable))
    fit_table(lt, width(), whole=("layer",), drop=("network",))
    console.print(lt)


@guarded
def plugins(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table "
                                 "(schema: docs/cli-json.md)."),
    strict: bool = typer.Option(False, "--strict",
                                help="Exit 1 when any plugin failed (for a plugin's CI)."),
) -> None:
    """Every plugin: its version, what it registered, and whether it failed (and why)."""
    catalog = load_catalog()
    failed = [r.name for r in catalog.plugin_reports if not r.ok]
    if as_json:
        print_json([{"name": r.name, "version": r.version, "source": r.source,
                     "registered": list(r.registered), "ok": bool(r.ok),
                     "errors": list(r.errors)} for r in catalog.plugin_reports])
        if strict and failed:
            raise typer.Exit(1)
        return
    table = Table(title="ganzoo plugins", title_justify="left")
    table.add_column("plugin")
    for col in ("version", "source", "registered", "status"):
        table.add_column(col, overflow="fold")
    for report in catalog.plugin_reports:
        status = Text("ok", style="green") if report.ok else Text(
            "\n".join(report.errors), style="red")
        table.add_row(report.name, report.version, report.source,
                      ", ".join(report.registered) or "-", status)
    fit_table(table, width(), whole=("plugin",))
    console.print(table)
    if strict and failed:
        err_console.print(f"[bold red]error:[/] plugin problems in {', '.join(failed)}",
                          highlight=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("list")(list_models)
    app.command("info")(info)
    app.command("plugins")(plugins)
