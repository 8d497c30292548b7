"""Bad weights files: every one gets a typed, clear error and nothing is registered.

No framework is needed: files are checked against the cards, and the one backend that loads
them here is the numpy plugin of export_support.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from export_support import (
    cli_store,
    metadata,
    numpy_catalog,
    random_weights,
    write_file,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from ganzoo.errors import UsageError, WeightsFileError
from ganzoo.exchange import import_file
from ganzoo.store import RunStore
from ganzoo.weights import FORMAT, read_metadata, read_weights, write_weights
from ganzoo.weights.loading import check_file, loaders_for

CATALOG = numpy_catalog()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    """A fresh registry, also the one the CLI opens, and the numpy catalog for the CLI."""
    return cli_store(tmp_path / "home", monkeypatch, CATALOG)


def _raw(path: Path, arrays: dict, meta: object, fmt: str = FORMAT) -> Path:
    """A safetensors file with exactly this metadata (bypassing write_weights' guarantees)."""
    text = meta if isinstance(meta, str) else json.dumps(meta)
    save_file(arrays, str(path), metadata={"format": fmt, "ganzoo": text})
    return path


def _seed004() -> dict:
    return random_weights(CATALOG.cards["mlp"].recipe("seed004"))


def _valid(path: Path, **changes) -> Path:
    return write_file(path, CATALOG, **changes)


def _flip_data_byte(path: Path) -> Path:
    data = bytearray(_valid(path).read_bytes())
    data[-10] ^= 0x40  # inside the last tensor's float32 data
    path.write_bytes(bytes(data))
    return path


def _without(name: str) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        arrays = _seed004()
        del arrays[name]
        return _valid(path, arrays=arrays)
    return make


def _with_extra(path: Path) -> Path:
    arrays = {**_seed004(), "generator.99.weight": np.zeros((2, 2), np.float32)}
    return _valid(path, arrays=arrays)


def _transposed(path: Path) -> Path:
    arrays = _seed004()
    arrays["generator.0.weight"] = np.ascontiguousarray(arrays["generator.0.weight"].T)
    return _valid(path, arrays=arrays)


def _float64(path: Path) -> Path:
    arrays = {k: v.astype(np.float64) for k, v in _seed004().items()}
    return _raw(path, arrays, {**metadata(CATALOG), "format_version": 1})


def _truncated(path: Path) -> Path:
    data = _valid(path).read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    return path


def _header_only(path: Path) -> Path:
    data = _valid(path).read_bytes()
    path.write_bytes(data[: 8 + int.from_bytes(data[:8], "little")])
    return path


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return make


def _meta(**changes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        return _raw(path, _seed004(), {**metadata(CATALOG), "format_version": 1, **changes})
    return make


def _drop_meta_keys(*keys: str) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        meta = {**metadata(CATALOG), "format_version": 1}
        for key in keys:
            meta.pop(key)
        return _raw(path, _seed004(), meta)
    return make


# name -> (how to make the file, a fragment the error message must contain)
BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "random bytes": (_bytes(np.random.default_rng(1).bytes(4096)),
                     "not a readable safetensors file"),
    "empty": (_bytes(b""), "not a readable safetensors file"),
    "a pickle": (_bytes(pickle.dumps({"generator.0.weight": [1.0]})),
                 "not a readable safetensors file"),
    "truncated": (_truncated, "safetensors"),
    "header only": (_header_only, "safetensors"),
    "plain safetensors": (lambda p: save_file(_seed004(), str(p)) or p, "no ganzoo metadata"),
    "another format tag": (lambda p: _raw(p, _seed004(), metadata(CATALOG), fmt="other"),
                           "no ganzoo metadata"),
    "broken metadata JSON": (lambda p: _raw(p, _seed004(), '{"family": "mlp",'),
                             "not valid JSON"),
    "metadata not an object": (lambda p: _raw(p, _seed004(), "[1, 2]"), "not a JSON object"),
    "metadata lacks keys": (_drop_meta_keys("family", "latent_dim"),
                            "metadata lacks family, latent_dim"),
    "newer format version": (_meta(format_version=99), "newer than this ganzoo understands"),
    "format version a string": (_meta(format_version="1"), "not a positive integer"),
    "latent_dim a string": (_meta(latent_dim="100"), "'latent_dim' must be a positive integer"),
    "unknown part": (_meta(parts=["generator", "head"]), "'parts' must list"),
    "image_shape 2-D": (_meta(image_shape=[28, 28]), "'image_shape' must be"),
    "epochs a string": (_meta(epochs="3"), "'epochs' must be of type int"),
    "unknown family": (_meta(family="stylegan"), "family 'stylegan', which no installed plugin"),
    "unknown recipe": (_meta(recipe="seed999"), "recipe 'seed999' is not in the mlp card"),
    "latent size contradicts the card": (_meta(latent_dim=64),
                                         "metadata says latent_dim = 64"),
    "noise contradicts the card": (_meta(noise="normal"), "metadata says noise = 'normal'"),
    "another family's tensors": (_meta(family="dcgan", recipe="seed000", noise="normal"),
                                 "(family dcgan, recipe seed000)"),
    "wrong shape": (_transposed, "tensor generator.0.weight has shape (100, 32), the card "
                                 "expects (32, 100)"),
    "missing tensor": (_without("generator.3.bias"), "missing tensors generator.3.bias"),
    "missing part": (_meta(parts=["generator"]), "not under a part the metadata lists"),
    "unexpected tensor": (_with_extra, "unexpected tensors generator.99.weight"),
    "float64 tensors": (_float64, "not float32 (or float16)"),
    "a flipped data byte": (_flip_data_byte, "do not match the checksum"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_check_file_raises_a_clear_weights_file_error(name: str, tmp_path: Path) -> None:
    make, fragment = BAD_FILES[name]
    path = make(tmp_path / "bad.safetensors")
    with pytest.raises(WeightsFileError) as info:
        check_file(CATALOG, path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)  # the message names the file


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_import_of_a_bad_file_registers_nothing(name: str, store: RunStore, cli,
                                                tmp_path: Path) -> None:
    make, fragment = BAD_FILES[name]
    path = make(tmp_path / "bad.safetensors")
    before = store.list()
    result = cli("import", str(path), "--backend", "numpy")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # shown, not raised
    assert "error:" in result.output
    assert fragment in " ".join(result.output.split())
    assert store.list() == before
    # no half-written version left behind
    assert not store.work_dir.exists() or not any(store.work_dir.iterdir())


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_sampling_from_a_bad_file_fails_cleanly(name: str, store: RunStore, cli,
                                               tmp_path: Path) -> None:
    path = BAD_FILES[name][0](tmp_path / "bad.safetensors")
    sampled = cli("sample", "--weights", str(path), "--backend", "numpy",
                  "-o", str(tmp_path / "s.png"))
    assert sampled.exit_code != 0, sampled.output
    assert isinstance(sampled.exception, SystemExit), sampled.exception  # a typed error, shown
    assert not (tmp_path / "s.png").exists()


def test_the_valid_file_the_bad_ones_derive_from_imports(store: RunStore, cli,
                                                         tmp_path: Path) -> None:
    path = _valid(tmp_path / "good.safetensors")
    assert check_file(CATALOG, path).parts == ("generator", "discriminator")
    result = cli("import", str(path))
    assert result.exit_code == 0, result.output
    assert len(store.list()) == 1


def test_a_missing_file_is_a_weights_file_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsFileError, match="no such file"):
        check_file(CATALOG, tmp_path / "nothing.safetensors")


def test_no_loader_for_the_chosen_backend_lists_the_ones_that_can(store: RunStore, cli,
                                                                   tmp_path: Path) -> None:
    # Trained with torch, but only the numpy plugin is installed here.
    path = _valid(tmp_path / "torch.safetensors", backend="torch", model_id="mlp-torch")
    result = cli("import", str(path))
    assert result.exit_code == 2
    assert ("No installed plugin loads family 'mlp' on backend 'torch'. Backends that can: "
            "numpy (choose one with --backend numpy).") in " ".join(result.output.split())
    with pytest.raises(UsageError, match="Backends that can: numpy"):
        import_file(CATALOG, store, path, backend="jax")
    assert store.list() == []
    assert cli("import", str(path), "--backend", "numpy").exit_code == 0


def test_a_family_no_plugin_loads_says_none_installed(store: RunStore, tmp_path: Path) -> None:
    dcgan = CATALOG.cards["dcgan"].recipe()
    meta = {**metadata(CATALOG), "family": "dcgan", "recipe": "seed000", "noise": "normal",
            "model_id": "dcgan-torch", "backend": "torch"}
    path = write_weights(tmp_path / "d.safetensors", random_weights(dcgan), meta)
    assert loaders_for(CATALOG, "dcgan") == []
    with pytest.raises(UsageError, match="Backends that can: none installed"):
        import_file(CATALOG, store, path)
    assert store.list() == []


def test_a_discriminator_only_file_is_refused_on_import(store: RunStore, cli,
                                                        tmp_path: Path) -> None:
    recipe = CATALOG.cards["mlp"].recipe("seed004")
    arrays = random_weights(recipe, parts=("discriminator",))
    path = _valid(tmp_path / "d.safetensors", arrays=arrays, parts=["discriminator"])
    result = cli("import", str(path))
    assert result.exit_code == 2
    assert "holds only the discriminator" in result.output
    assert store.list() == []


# -- fuzzing ---------------------------------------------------------------------------------

_TINY = {"generator.0.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
         "generator.0.bias": np.ones(3, np.float32),
         "discriminator.0.weight": np.full((1, 4), 0.5, np.float32)}


def _tiny_file() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.safetensors"
        write_weights(path, _TINY, metadata(CATALOG))
        return path.read_bytes()


TINY_BYTES = _tiny_file()

_mutation = st.one_of(
    st.tuples(st.just("set"), st.integers(0, len(TINY_BYTES) - 1), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, len(TINY_BYTES) - 1), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, len(TINY_BYTES)), st.integers(0, 255)),
    # the 8-byte header length, the most sensitive spot
    st.tuples(st.just("set"), st.integers(0, 7), st.integers(0, 255)),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, pos, value in mutations:
        pos = min(pos, len(out))
        if kind == "set" and pos < len(out):
            out[pos] = value
        elif kind == "cut":
            del out[pos:]
        elif kind == "insert":
            out[pos:pos] = bytes([value])
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(_mutation, min_size=1, max_size=4))
def test_fuzzed_bytes_give_weights_file_error_or_a_valid_read(mutations) -> None:
    data = _mutate(TINY_BYTES, mutations)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.safetensors"
        path.write_bytes(data)
        try:
            arrays, meta = read_weights(path)
        except WeightsFileError:
            return
    # A mutation that still reads (e.g. inside a metadata string) must read consistently.
    assert set(arrays) == set(_TINY)
    assert all(v.dtype == np.float32 for v in arrays.values())
    for name, value in _TINY.items():
        np.testing.assert_array_equal(arrays[name], value)  # data bytes are checksummed
    assert isinstance(meta, dict)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=10,
)
_KEYS = ["format_version", "model_id", "family", "recipe", "backend", "latent_dim", "noise",
         "image_shape", "value_range", "parts", "dataset", "epochs", "seed", "card_sha256",
         "tensors_sha256"]


_SEED004 = _seed004()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_KEYS), _json, min_size=1, max_size=3))
def test_fuzzed_metadata_values_give_weights_file_error_or_a_checked_file(changes) -> None:
    meta = {**metadata(CATALOG), "format_version": 1, **changes}
    with tempfile.TemporaryDirectory() as tmp:
        path = _raw(Path(tmp) / "m.safetensors", _SEED004, meta)
        try:
            checked = check_file(CATALOG, path)
        except WeightsFileError:
            return
        read_metadata(path)
    assert checked.recipe.latent_dim == checked.meta["latent_dim"]


# -- export refusals -------------------------------------------------------------------------


def test_export_refuses_to_overwrite_without_force(store: RunStore, cli, tmp_path: Path) -> None:
    from export_support import register_version

    register_version(store, CATALOG)
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"precious")
    result = cli("export", "mlp-numpy@1", "-o", str(out))
    assert result.exit_code == 2
    assert "already exists; pass --force to overwrite it" in result.output
    assert out.read_bytes() == b"precious"
    forced = cli("export", "mlp-numpy@1", "-o", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert check_file(CATALOG, out).meta["exported_from"] == "mlp-numpy@1"


@pytest.mark.parametrize(("args", "code", "fragment"), [
    (["mlp-numpy@1", "--part", "head"], 2, "--part must be one of all, generator, discriminator"),
    (["mlp-numpy@7"], 2, "mlp-numpy@7 does not exist; versions of mlp-numpy: 1"),
    (["mlp-numpy@x"], 2, "must be a positive number, 'latest' or 'reference'"),
    (["dcgan-torch"], 2, "No trained version of dcgan-torch"),
])
def test_export_errors_are_one_red_line(args, code, fragment, store: RunStore, cli,
                                        tmp_path: Path) -> None:
    from export_support import register_version

    register_version(store, CATALOG)
    out = tmp_path / "out.safetensors"
    result = cli("export", *args, "-o", str(out))
    assert result.exit_code == code, result.output
    assert fragment in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not out.exists()


def test_export_into_a_missing_folder_or_onto_a_folder_is_a_usage_error(
        store: RunStore, cli, tmp_path: Path) -> None:
    from export_support import register_version

    register_version(store, CATALOG)
    missing = cli("export", "mlp-numpy@1", "-o", str(tmp_path / "nope" / "w.safetensors"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    onto_dir = cli("export", "mlp-numpy@1", "-o", str(tmp_path))
    assert onto_dir.exit_code == 2 and "is a directory" in onto_dir.output


def test_export_of_a_part_the_version_lacks(store: RunStore, cli, tmp_path: Path) -> None:
    gen_only = tmp_path / "g.safetensors"
    recipe = CATALOG.cards["mlp"].recipe("seed004")
    _valid(gen_only, arrays=random_weights(recipe, parts=("generator",)), parts=["generator"])
    assert cli("import", str(gen_only)).exit_code == 0
    result = cli("export", "mlp-numpy@1", "-o", str(tmp_path / "d.safetensors"),
                 "--part", "discriminator")
    assert result.exit_code == 2
    assert "mlp-numpy@1 holds no discriminator (only generator)" in result.output


def test_a_corrupt_registered_version_cannot_be_exported(store: RunStore, cli,
                                                         tmp_path: Path) -> None:
    from export_support import register_version

    record = register_version(store, CATALOG)
    _flip_data_byte_in_place(record.path / "weights.safetensors")
    result = cli("export", "mlp-numpy@1", "-o", str(tmp_path / "w.safetensors"))
    assert result.exit_code == 1 and "do not match the checksum" in result.output
    assert not (tmp_path / "w.safetensors").exists()


def _flip_data_byte_in_place(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x40
    path.write_bytes(bytes(data))


def test_nothing_is_ever_unpickled(store: RunStore, cli, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(np, "load", refuse)
    from export_support import register_version

    register_version(store, CATALOG)
    out = tmp_path / "w.safetensors"
    assert cli("export", "mlp-numpy@1", "-o", str(out)).exit_code == 0
    assert cli("import", str(out)).exit_code == 0
    bad = BAD_FILES["a pickle"][0](tmp_path / "p.safetensors")
    assert cli("import", str(bad)).exit_code == 1
