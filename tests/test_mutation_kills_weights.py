"""``ganzoo.weights``: exact messages and boundaries, written for the mutants mutation testing
left alive (docs/testing.md).

The other weights tests match a fragment of each message; these pin the whole text of every
refusal (a user reads it and acts on it), the boundaries of each metadata check (0 vs 1,
exactly three image dimensions), the checksum's definition and the file mode of a write.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from ganzoo.errors import StoreWriteError, WeightsFileError
from ganzoo.weights import (
    CHECKSUM_KEY,
    FORMAT,
    check_shapes,
    file_sha256,
    read_metadata,
    read_weights,
    save_atomically,
    select_part,
    tensors_digest,
    write_weights,
)

ARRAYS = {"generator.dense.kernel": np.arange(6, dtype=np.float32).reshape(2, 3),
          "discriminator.dense.bias": np.array([0.5, -1.0], np.float32)}


def meta(**changes) -> dict:
    base = {"format_version": 1, "model_id": "mlp-numpy", "family": "mlp", "recipe": "seed004",
            "backend": "numpy", "latent_dim": 3, "noise": "normal", "image_shape": [2, 2, 1],
            "value_range": [-1.0, 1.0], "parts": ["generator", "discriminator"]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def raw(path: Path, document: object, fmt: str = FORMAT, arrays=None) -> Path:
    text = document if isinstance(document, str) else json.dumps(document)
    save_file(dict(arrays or ARRAYS), str(path), metadata={"format": fmt, "ganzoo": text})
    return path


def error_of(path: Path) -> str:
    with pytest.raises(WeightsFileError) as caught:
        read_weights(path)
    return str(caught.value)


def test_a_written_file_reads_back_with_its_checksum_and_version(tmp_path):
    path = write_weights(tmp_path / "w.safetensors", ARRAYS, meta(format_version=7))
    arrays, got = read_weights(path)
    assert got["format_version"] == 1 and got[CHECKSUM_KEY] == tensors_digest(ARRAYS)
    assert set(arrays) == set(ARRAYS)
    for name, value in ARRAYS.items():
        np.testing.assert_array_equal(arrays[name], value)
    assert read_metadata(path) == got
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not (tmp_path / "w.safetensors.tmp").exists()


def test_a_half_file_is_half_the_bytes_and_reads_back_as_float32_with_its_checksum(tmp_path):
    rng = np.random.default_rng(0)
    big = {"generator.w": rng.standard_normal((64, 64)).astype(np.float32)}
    full = write_weights(tmp_path / "f.safetensors", big, meta())
    half = write_weights(tmp_path / "h.safetensors", big, meta(), half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    arrays, got = read_weights(half)  # the checksum is verified on the way in
    assert arrays["generator.w"].dtype == np.float32
    rounded = big["generator.w"].astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(arrays["generator.w"], rounded)
    assert got[CHECKSUM_KEY] == tensors_digest({"generator.w": rounded})
    assert not np.array_equal(rounded, big["generator.w"])  # it did round


def test_the_checksum_is_names_shapes_and_little_endian_float32_bytes_in_name_order():
    digest = hashlib.sha256()
    for name in sorted(ARRAYS):
        value = ARRAYS[name]
        digest.update(f"{name} {','.join(map(str, value.shape))}\n".encode())
        digest.update(value.astype("<f4").tobytes())
    assert tensors_digest(ARRAYS) == digest.hexdigest()
    # float64 input hashes as its float32 values; a reshaped tensor hashes differently
    assert tensors_digest({k: v.astype(np.float64) for k, v in ARRAYS.items()}) == \
        digest.hexdigest()
    reshaped = {**ARRAYS, "generator.dense.kernel": ARRAYS["generator.dense.kernel"].reshape(3, 2)}
    assert tensors_digest(reshaped) != digest.hexdigest()


def test_a_large_file_hashes_in_blocks_to_the_whole_digest(tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom((1 << 20) * 2 + 17)
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_a_write_takes_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        path = write_weights(tmp_path / "w.safetensors", ARRAYS, meta())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_failed_write_names_the_path_and_leaves_nothing(tmp_path):
    target = tmp_path / "missing" / "w.safetensors"
    with pytest.raises(StoreWriteError) as caught:
        save_atomically(target, ARRAYS, {"format": FORMAT})
    message = str(caught.value)
    assert message.startswith(f"cannot write {target}: ")
    assert message.endswith("; nothing was written")
    assert "free some space" not in message
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_full_disk_says_so_and_names_the_fix(tmp_path, monkeypatch):
    import errno

    from safetensors import numpy as st_numpy

    def full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(st_numpy, "save_file", full)
    target = tmp_path / "w.safetensors"
    with pytest.raises(StoreWriteError) as caught:
        save_atomically(target, ARRAYS, {})
    assert str(caught.value) == (
        f"cannot write {target}: the disk is full; nothing was written; free some space "
        "(or set GANZOO_HOME to another disk) and try again")
    assert not (tmp_path / "w.safetensors.tmp").exists() and not target.exists()


def test_a_folder_and_a_missing_file(tmp_path):
    with pytest.raises(WeightsFileError) as caught:
        read_metadata(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path} is a folder, not a weights file; name the .safetensors file inside it "
        f"(e.g. {tmp_path / 'weights.safetensors'})")
    with pytest.raises(WeightsFileError) as caught:
        read_metadata(tmp_path / "nope.safetensors")
    assert str(caught.value) == f"{tmp_path / 'nope.safetensors'}: no such file"


def test_not_safetensors(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"\x00" * 4)
    message = error_of(path)
    assert message.startswith(f"{path} is not a readable safetensors file (")
    assert message.endswith("); export one with 'ganzoo export'")


NO_GANZOO = ("{path} is a safetensors file but has no ganzoo metadata; only files written by "
             "'ganzoo export' (or a training run) can be imported")


def test_safetensors_without_ganzoo_metadata(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file(dict(ARRAYS), str(plain))
    assert error_of(plain) == NO_GANZOO.format(path=plain)
    other = raw(tmp_path / "other.safetensors", meta(), fmt="other")
    assert error_of(other) == NO_GANZOO.format(path=other)
    lacking = tmp_path / "lacking.safetensors"
    save_file(dict(ARRAYS), str(lacking), metadata={"format": FORMAT})
    assert error_of(lacking) == NO_GANZOO.format(path=lacking)


def test_bad_json_and_not_an_object(tmp_path):
    path = raw(tmp_path / "a.safetensors", "{not json")
    message = error_of(path)
    assert message.startswith(f"{path}: the ganzoo metadata is not valid JSON (")
    assert message.endswith(")")
    path = raw(tmp_path / "b.safetensors", [1, 2])
    assert error_of(path) == f"{path}: the ganzoo metadata is not a JSON object"


def test_missing_keys_are_listed_in_order(tmp_path):
    path = raw(tmp_path / "a.safetensors", meta(model_id=..., noise=..., parts=...))
    assert error_of(path) == f"{path}: metadata lacks model_id, noise, parts"


@pytest.mark.parametrize("version", [0, -1, "1", True, 1.0])
def test_a_format_version_that_is_not_a_positive_integer(tmp_path, version):
    path = raw(tmp_path / "a.safetensors", meta(format_version=version))
    assert error_of(path) == f"{path}: format_version {version!r} is not a positive integer"


def test_a_newer_format_version(tmp_path):
    path = raw(tmp_path / "a.safetensors", meta(format_version=2))
    assert error_of(path) == (
        f"{path} uses weights format version 2, newer than this ganzoo understands (1); "
        "upgrade ganzoo to read it")


@pytest.mark.parametrize(("changes", "problem"), [
    ({"model_id": ""}, "'model_id' must be a non-empty string, got ''"),
    ({"family": 3}, "'family' must be a non-empty string, got 3"),
    ({"recipe": None}, "'recipe' must be a non-empty string, got None"),
    ({"backend": ["numpy"]}, "'backend' must be a non-empty string, got ['numpy']"),
    ({"noise": ""}, "'noise' must be a non-empty string, got ''"),
    ({"latent_dim": 0}, "'latent_dim' must be a positive integer, got 0"),
    ({"latent_dim": True}, "'latent_dim' must be a positive integer, got True"),
    ({"latent_dim": 2.0}, "'latent_dim' must be a positive integer, got 2.0"),
    ({"image_shape": [2, 2]}, "'image_shape' must be [height, width, channels], got [2, 2]"),
    ({"image_shape": [2, 2, 1, 1]},
     "'image_shape' must be [height, width, channels], got [2, 2, 1, 1]"),
    ({"image_shape": [2, 0, 1]}, "'image_shape' must be [height, width, channels], got [2, 0, 1]"),
    ({"image_shape": [2, 2, True]},
     "'image_shape' must be [height, width, channels], got [2, 2, True]"),
    ({"image_shape": "2,2,1"}, "'image_shape' must be [height, width, channels], got '2,2,1'"),
    ({"value_range": [0, 1, 2]}, "'value_range' must be [low, high], got [0, 1, 2]"),
    ({"value_range": [0, True]}, "'value_range' must be [low, high], got [0, True]"),
    ({"value_range": [0, "1"]}, "'value_range' must be [low, high], got [0, '1']"),
    ({"value_range": "0,1"}, "'value_range' must be [low, high], got '0,1'"),
    ({"parts": []}, "'parts' must list some of generator, discriminator, got []"),
    ({"parts": ["generator", "generator"]},
     "'parts' must list some of generator, discriminator, got ['generator', 'generator']"),
    ({"parts": ["encoder"]}, "'parts' must list some of generator, discriminator, got ['encoder']"),
    ({"parts": "generator"}, "'parts' must list some of generator, discriminator, got 'generator'"),
    ({"epochs": "3"}, "'epochs' must be of type int, got '3'"),
    ({"seed": True}, "'seed' must be of type int, got True"),
    ({"dataset": 5}, "'dataset' must be of type str, got 5"),
])
def test_each_metadata_problem_is_named_exactly(tmp_path, changes, problem):
    path = raw(tmp_path / "a.safetensors", meta(**changes))
    assert error_of(path) == f"{path}: metadata {problem}"


def test_the_edges_each_check_accepts(tmp_path):
    ok = meta(latent_dim=1, image_shape=[1, 1, 1], value_range=[0, 1.5], parts=["generator"],
              epochs=0, seed=None)
    path = raw(tmp_path / "a.safetensors", ok, arrays={"generator.w": np.ones(2, np.float32)})
    arrays, got = read_weights(path)
    assert got["latent_dim"] == 1 and list(arrays) == ["generator.w"]


def test_tensor_checks_are_named_exactly(tmp_path):
    wide = raw(tmp_path / "h.safetensors", meta(),
               arrays={"generator.w": np.ones(2, np.float64)})
    assert error_of(wide) == (f"{wide}: tensor generator.w is float64, not float32 "
                              "(or float16)")
    stray = raw(tmp_path / "s.safetensors", meta(parts=["generator"]), arrays=ARRAYS)
    assert error_of(stray) == (f"{stray}: tensor discriminator.dense.bias is not under a part "
                               "the metadata lists (generator)")
    nan = raw(tmp_path / "n.safetensors", meta(),
              arrays={**ARRAYS, "generator.b": np.array([np.inf], np.float32)})
    assert error_of(nan) == (
        f"{nan}: tensor generator.b holds NaN or infinite values; these weights are unusable "
        "(from a diverged run?): use a checkpoint from before the divergence")
    wrong = raw(tmp_path / "c.safetensors", meta(**{CHECKSUM_KEY: "0" * 64}))
    assert error_of(wrong) == (
        f"{wrong} is corrupt: its tensors do not match the checksum in its metadata "
        "(was it modified or damaged in transfer?)")
    right = raw(tmp_path / "r.safetensors", meta(**{CHECKSUM_KEY: tensors_digest(ARRAYS)}))
    assert set(read_weights(right)[0]) == set(ARRAYS)


def test_data_that_fails_to_load_after_a_good_header(tmp_path, monkeypatch):
    """safe_open checks the header against the file size; a read error after it is wrapped."""
    import safetensors.numpy as st_numpy

    path = write_weights(tmp_path / "w.safetensors", ARRAYS, meta())

    def broken(filename):
        raise OSError("Input/output error")

    monkeypatch.setattr(st_numpy, "load_file", broken)
    assert error_of(path) == f"{path} is truncated or corrupt: Input/output error"


def test_select_part():
    assert select_part(ARRAYS, "all") == ARRAYS and select_part(ARRAYS, "all") is not ARRAYS
    assert list(select_part(ARRAYS, "generator")) == ["generator.dense.kernel"]
    assert list(select_part({"generatorx.w": 1, "generator.w": 2}, "generator")) == ["generator.w"]
    with pytest.raises(WeightsFileError) as caught:
        select_part(ARRAYS, "encoder")
    assert str(caught.value) == "unknown part 'encoder': use generator, discriminator or all"


def test_check_shapes_names_what_is_missing_extra_or_misshapen():
    expected = {f"generator.t{i}": (1,) for i in range(7)}
    with pytest.raises(WeightsFileError) as caught:
        check_shapes({}, expected, "src")
    assert str(caught.value) == ("src: missing tensors generator.t0, generator.t1, generator.t2, "
                                 "generator.t3, generator.t4 ...")
    with pytest.raises(WeightsFileError) as caught:
        check_shapes({"generator.t0": np.zeros(1)}, {"generator.t0": (1,), "generator.t1": (1,)},
                     "src")
    assert str(caught.value) == "src: missing tensors generator.t1"
    arrays = {**{k: np.zeros(1) for k in expected}, "a": np.zeros(1), "b": np.zeros(1)}
    with pytest.raises(WeightsFileError) as caught:
        check_shapes(arrays, expected, "src")
    assert str(caught.value) == "src: unexpected tensors a, b"
    arrays = {k: np.zeros(1) for k in expected} | {f"x{i}": np.zeros(1) for i in range(6)}
    with pytest.raises(WeightsFileError) as caught:
        check_shapes(arrays, expected, "src")
    assert str(caught.value) == "src: unexpected tensors x0, x1, x2, x3, x4 ..."
    arrays = {k: np.zeros(1) for k in expected} | {"generator.t3": np.zeros((1, 1))}
    with pytest.raises(WeightsFileError) as caught:
        check_shapes(arrays, expected, "src")
    assert str(caught.value) == ("src: tensor generator.t3 has shape (1, 1), the card "
                                 "expects (1,)")
    check_shapes({k: np.zeros(1) for k in expected}, expected, "src")


def test_float64_arrays_are_written_as_float32(tmp_path):
    wide = {k: v.astype(np.float64) for k, v in ARRAYS.items()}
    arrays, _ = read_weights(write_weights(tmp_path / "w.safetensors", wide, meta()))
    assert {v.dtype for v in arrays.values()} == {np.dtype(np.float32)}


def test_the_temp_file_is_the_name_plus_tmp_and_a_zero_umask_gives_0666(tmp_path, monkeypatch):
    from safetensors import numpy as st_numpy

    seen = []
    real_save = st_numpy.save_file

    def spy(tensors, filename, metadata=None):
        seen.append(filename)
        return real_save(tensors, filename, metadata=metadata)

    monkeypatch.setattr(st_numpy, "save_file", spy)
    old = os.umask(0)
    try:
        path = save_atomically(tmp_path / "w.safetensors", ARRAYS, {"format": FORMAT})
    finally:
        os.umask(old)
    assert seen == [str(tmp_path / "w.safetensors.tmp")]  # what 'runs gc' cleans up
    assert path.stat().st_mode & 0o777 == 0o666


@pytest.mark.parametrize("exc", [
    OSError(28, "out of quota"),  # ENOSPC by number, other words
    RuntimeError("No space left on device (os error 28)"),  # the words, no errno
], ids=["errno", "words"])
def test_a_full_disk_is_known_by_its_errno_or_its_words(tmp_path, monkeypatch, exc):
    from safetensors import SafetensorError
    from safetensors import numpy as st_numpy

    def fail(tensors, filename, metadata=None):
        raise exc if isinstance(exc, OSError) else SafetensorError(str(exc))

    monkeypatch.setattr(st_numpy, "save_file", fail)
    target = tmp_path / "w.safetensors"
    with pytest.raises(StoreWriteError) as caught:
        save_atomically(target, ARRAYS, {})
    assert str(caught.value).startswith(f"cannot write {target}: the disk is full; ")


def test_another_write_error_keeps_its_own_words(tmp_path, monkeypatch):
    from safetensors import numpy as st_numpy

    def denied(tensors, filename, metadata=None):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(st_numpy, "save_file", denied)
    target = tmp_path / "w.safetensors"
    with pytest.raises(StoreWriteError) as caught:
        save_atomically(target, ARRAYS, {})
    assert str(caught.value) == (
        f"cannot write {target}: [Errno 13] Permission denied; nothing was written")


def test_reading_the_umask_leaves_it_as_it_was():
    from ganzoo.weights import current_umask

    old = os.umask(0o077)
    try:
        assert current_umask() == 0o077
        assert os.umask(0o077) == 0o077
    finally:
        os.umask(old)


@pytest.mark.parametrize(("count", "dots"), [(5, ""), (6, " ...")])
def test_check_shapes_lists_five_names_and_dots_only_beyond(count, dots):
    expected = {f"generator.t{i}": (1,) for i in range(count)}
    names = ", ".join(sorted(expected)[:5])
    with pytest.raises(WeightsFileError) as caught:
        check_shapes({}, expected, "src")
    assert str(caught.value) == f"src: missing tensors {names}{dots}"
    with pytest.raises(WeightsFileError) as caught:
        check_shapes({k: np.zeros(1) for k in expected}, {}, "src")
    assert str(caught.value) == f"src: unexpected tensors {names}{dots}"


def test_a_tensor_under_no_listed_part_names_every_part(tmp_path):
    path = raw(tmp_path / "a.safetensors", meta(),
               arrays={**ARRAYS, "encoder.w": np.ones(1, np.float32)})
    assert error_of(path) == (f"{path}: tensor encoder.w is not under a part the metadata "
                              "lists (generator, discriminator)")
