"""The catalog: one object holding every card, model, dataset and metric that plugins registered.

Built once per process (``Catalog.load()``) and passed around; there are no module-level
mutable registries. Listing models never imports a framework: backends are import paths,
resolved only when a model is used.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.cards import ModelCard, builtin_cards, parse_card
from ganzoo.errors import (
    BackendUnavailableError,
    DuplicateModelError,
    GanzooError,
    PluginError,
    UnknownModelError,
    UsageError,
)
from ganzoo.losses import Objectives
from ganzoo.plugins import PluginHost, PluginReport

if TYPE_CHECKING:
    from ganzoo.protocols import Backend


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: a family (card) implemented by one backend of one plugin."""

    model_id: str
    family: str
    backend: str
    plugin: str
    factory: str
    card: ModelCard
    requires: tuple[str, ...] = ()
    install_hint: str = ""

    @property
    def installed(self) -> bool:
        """Whether the modules this backend needs can be imported (checked without importing)."""
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def load_backend(self) -> Backend:
        """Import and build the backend; a clear error names the extra to install."""
        if not self.installed:
            missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
            hint = self.install_hint or f"pip install {' '.join(missing)}"
            raise BackendUnavailableError(
                f"{self.model_id} needs {', '.join(missing)}, which is not installed. "
                f"Install it with: {hint}"
            )
        # Importing torch before tensorflow is the only safe order in one process.
        from ganzoo.frameworks import prepare_imports

        prepare_imports(self.requires)
        module_name, _, attr = self.factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"plugin '{self.plugin}' registered {self.model_id} with factory "
                f"'{self.factory}', which cannot be loaded: {exc}"
            ) from exc
        backend = factory(self)
        _check_create_trainer_signature(backend, self.model_id)
        return backend


def _check_create_trainer_signature(backend: Any, model_id: str) -> None:
    """Raise PluginError for a backend written to the old ``create_trainer(card, recipe, ...)``
    (before ganzoo dropped the card), naming the fix, rather than a TypeError mid-training."""
    import inspect

    try:
        params = list(inspect.signature(backend.create_trainer).parameters)
    except (AttributeError, TypeError, ValueError):
        return  # no inspectable create_trainer: using it reports what breaks
    if params and params[0] == "card":
        raise PluginError(f"{model_id}: {type(backend).__name__}.create_trainer no longer "
                          "takes the card: drop its first parameter (the signature is "
                          "create_trainer(recipe, config, images, labels=None))")


@dataclass
class Catalog:
    """Every card, model, dataset and metric, with a report per plugin."""

    host: PluginHost
    cards: dict[str, ModelCard] = field(default_factory=dict)
    models: dict[str, ModelSpec] = field(default_factory=dict)
    datasets: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, tuple[Callable[..., Any], str]] = field(default_factory=dict)
    card_origin: dict[str, str] = field(default_factory=dict)
    # Losses and penalties cards may name (built in + registered); cards are parsed with it.
    objectives: Objectives = field(default_factory=Objectives.builtin)
    # Model ids a plugin tried to register and could not: id -> (plugin, why).
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        plugins: Iterable[str] | None = None,
        extra: Iterable[tuple[str, Any]] = (),
        entry_points: bool = True,
    ) -> Catalog:
        """Load built-in cards and datasets, then every plugin's registrations.

        ``plugins`` restricts which entry points load (default: $GANZOO_PLUGINS or all);
        ``extra`` adds ``(name, plugin_object)`` pairs, as tests and embedders do.
        """
        host = PluginHost()
        from ganzoo.data import builtin as builtin_datasets

        host.add(builtin_datasets, "datasets", source="builtin (ganzoo.data)")
        if entry_points:
            host.load_entry_points(plugins)
        for name, plugin in extra:
            host.add(plugin, name, source="added in process")
        catalog = cls(host)
        # Losses and penalties first: cards (built-in ones too) are validated against them.
        host.call_each("register_losses", catalog._objective_registrar("loss"))
        host.call_each("register_penalties", catalog._objective_registrar("penalty"))
        for card in builtin_cards(catalog.objectives):
            catalog.cards[card.family] = card
            catalog.card_origin[card.family] = "ganzoo"
        host.call_each("register_cards", catalog._card_registrar)
        host.call_each("register_models", catalog._model_registrar)
        host.call_each("register_datasets", catalog._dataset_registrar)
        host.call_each("register_metrics", catalog._metric_registrar)
        return catalog

    # -- registrars handed to plugins -------------------------------------------------------

    def _report(self, plugin: str) -> PluginReport:
        return self.host.reports.setdefault(plugin, PluginReport(plugin))

    def _objective_registrar(self, kind: str) -> Callable[[str], Callable[..., None]]:
        def make(plugin: str) -> Callable[..., None]:
            note = self._report(plugin).registered.append
            if kind == "loss":
                return self.objectives.loss_registrar(plugin, note)
            return self.objectives.penalty_registrar(plugin, note)

        return make

    def _card_registrar(self, plugin: str) -> Callable[..., None]:
        def register(path: str | Path | None = None, *, text: str | None = None,
                     source: str | None = None) -> None:
            if path is not None:
                # A Traversable (importlib.resources) works even inside a zipped package.
                text = path.read_text(encoding="utf-8") if hasattr(path, "read_text") else \
                    Path(path).read_text(encoding="utf-8")
                source = source or str(path)
            card = parse_card(text or "", source or f"card from plugin {plugin}",
                              self.objectives)
            if card.family in self.cards:
                raise DuplicateModelError(
                    f"family '{card.family}' is already defined by "
                    f"{self.card_origin[card.family]}; plugin '{plugin}' cannot redefine it"
                )
            self.cards[card.family] = card
            self.card_origin[card.family] = f"plugin {plugin}"
            self._report(plugin).registered.append(f"card {card.family}")

        return register

    def _model_registrar(self, plugin: str) -> Callable[..., None]:
        def register(family: str, backend: str, factory: str, requires: Iterable[str] = (),
                     install_hint: str = "") -> None:
            report = self._report(plugin)
            model_id = f"{family}-{backend}"
            try:
                if family not in self.cards:
                    raise PluginError(
                        f"plugin '{plugin}' registered {model_id} but no card defines family "
                        f"'{family}' (ship one with the register_cards hook)"
                    )
                if model_id in self.models:
                    other = self.models[model_id].plugin
                    raise DuplicateModelError(
                        f"model id '{model_id}' is registered by both plugin '{other}' and "
                        f"plugin '{plugin}'; the first one ('{other}') is kept"
                    )
            except GanzooError as exc:
                report.errors.append(str(exc))
                self.refused.setdefault(model_id, (plugin, str(exc)))
                return
            self.models[model_id] = ModelSpec(model_id, family, backend, plugin, factory,
                                              self.cards[family], tuple(requires), install_hint)
            report.registered.append(model_id)

        return register

    def _dataset_registrar(self, plugin: str) -> Callable[[Any], None]:
        def register(spec: Any) -> None:
            report = self._report(plugin)
            if spec.name in self.datasets:
                report.errors.append(f"dataset '{spec.name}' is already registered")
                return
            self.datasets[spec.name] = spec
            report.registered.append(f"dataset {spec.name}")

        return register

    def _metric_registrar(self, plugin: str) -> Callable[..., None]:
        def register(name: str, function: Callable[..., Any], description: str = "") -> None:
            self.metrics[name] = (function, description)
            self._report(plugin).registered.append(f"metric {name}")

        return register

    # -- look-ups ---------------------------------------------------------------------------

    def list_models(self, pattern: str = "*") -> list[ModelSpec]:
        """Models whose id matches a shell-style pattern (``dcgan-*``), sorted by id."""
        return [m for k, m in sorted(self.models.items()) if fnmatch.fnmatch(k, pattern)]

    def model(self, model_id: str) -> ModelSpec:
        """The model with this id; an unknown id suggests the closest ones (exit code 2)."""
        if model_id in self.models:
            return self.models[model_id]
        close = difflib.get_close_matches(model_id, list(self.models), n=3, cutoff=0.5)
        error = UnknownModelError(model_id, close)
        note = self._failure_note(model_id)
        if note:
            error.args = (f"{error.args[0]} {note}",)
        raise error

    def _failure_note(self, model_id: str) -> str:
        """What plugin failures may explain an unknown ``model_id`` (empty when none)."""
        if model_id in self.refused:
            plugin, why = self.refused[model_id]
            # Its other errors too: a card that failed to load explains a family without one.
            earlier = [e for e in self._report(plugin).errors if e != why]
            return (f"Plugin '{plugin}' tried to register it and failed: "
                    f"{'; '.join([*earlier, why])}. See 'ganzoo plugins'.")
        broken = [r.name for r in self.host.reports.values() if not r.ok]
        if not broken:
            return ""
        which = ", ".join(f"'{name}'" for name in broken)
        return (f"Plugin{'s' if len(broken) > 1 else ''} {which} failed and may have meant to "
                "register it; see 'ganzoo plugins'.")

    def dataset(self, name: str) -> Any:
        """The dataset spec with this name; an unknown name lists the known ones."""
        if name in self.datasets:
            return self.datasets[name]
        close = difflib.get_close_matches(name, list(self.datasets), n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise UsageError(
            f"Unknown dataset '{name}'.{hint} Known datasets: {', '.join(sorted(self.datasets))}."
        )

    @property
    def plugin_reports(self) -> list[PluginReport]:
        return list(self.host.reports.values())
