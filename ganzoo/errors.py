"""Typed errors a user can hit. Each message names the fix; the CLI shows it without a traceback."""

from __future__ import annotations


class GanzooError(Exception):
    """Base of every error ganzoo raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(GanzooError):
    """The user asked for something that does not exist or cannot be combined (exit code 2)."""

    exit_code = 2


class UnknownModelError(UsageError):
    """A model id that no plugin registered."""

    def __init__(self, model_id: str, suggestions: list[str]):
        self.model_id = model_id
        self.suggestions = suggestions
        hint = f" Did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"Unknown model '{model_id}'.{hint} Run 'ganzoo list' to see every model."
        )


class CardError(GanzooError):
    """A model card (registry/*.toml) that is malformed: names the file and the key."""


class PluginError(GanzooError):
    """A plugin that failed to load or registered something invalid."""


class DuplicateModelError(PluginError):
    """Two plugins registered the same model id."""


class BackendUnavailableError(GanzooError):
    """The backend of a model is not installed; the message names the pip extra to install."""


class DatasetError(GanzooError):
    """A dataset that cannot be found, or a file that is corrupt or of the wrong kind."""


class UnlabeledDatasetError(UsageError):
    """A class-conditional model asked to train on images without class labels, or on labels
    outside its classes (exit code 2)."""


class RegistryError(GanzooError):
    """The store of trained versions: unknown version, bad reference, corrupt index."""


class UnknownVersionError(RegistryError):
    """A version reference that names no registered version (exit code 2, like usage)."""

    exit_code = 2


class TrainingDiverged(GanzooError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class WeightsFileError(GanzooError):
    """A weights file that is not a valid ganzoo safetensors export."""


class ReadOnlyHomeError(RegistryError):
    """A write to a registry whose home is read-only; the message names GANZOO_HOME."""


class RegistrationPendingError(RegistryError):
    """A finished run that could not be registered (busy index); it is kept in work/."""


class StoreWriteError(GanzooError):
    """A file that could not be written (disk full, permissions); names the path."""


class IntegrityError(RegistryError):
    """A version's weights file that no longer matches the sha256 recorded at registration."""


# The exit-code table (docs/exit-codes.md): every command keeps to it.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130
