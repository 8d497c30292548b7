"""Fuzzing the two parsers that read files from elsewhere: the safetensors header with its
ganzoo metadata, and IDX. Property: a typed error or a valid result, never another exception.
(test_data_idx.py and test_export_errors.py fuzz bytes and known metadata values; these fuzz
whole metadata documents, raw safetensors headers, and IDX files read from disk.)"""

from __future__ import annotations

import gzip
import json
import struct
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from ganzoo.data import IdxFormatError, read_idx
from ganzoo.errors import DatasetError, WeightsFileError
from ganzoo.weights import FORMAT, REQUIRED_METADATA, read_metadata, read_weights

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

_scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() \
    | st.text(max_size=12)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_keys = st.sampled_from([*REQUIRED_METADATA, "dataset", "epochs", "seed", "tensors_sha256",
                         "card_sha256", "layout", "split", "other"])


def _read_metadata_of(header: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.safetensors"
        save_file({"generator.0.weight": np.zeros((2, 2), np.float32)}, str(path),
                  metadata=header)
        try:
            meta = read_metadata(path)
        except WeightsFileError:
            return
    assert isinstance(meta, dict) and all(k in meta for k in REQUIRED_METADATA)


@FUZZ
@given(st.dictionaries(_keys, _json, max_size=12))
def test_fuzzed_metadata_documents(document):
    _read_metadata_of({"format": FORMAT, "ganzoo": json.dumps(document)})


@FUZZ
@given(_json)
def test_fuzzed_metadata_of_any_json_type(value):
    _read_metadata_of({"format": FORMAT, "ganzoo": json.dumps(value)})


@FUZZ
@given(st.text(max_size=200) | st.integers(1, 5000).map(lambda n: "[" * n + "]" * n))
def test_fuzzed_metadata_text(text):
    _read_metadata_of({"format": FORMAT, "ganzoo": text})


_dtypes = st.sampled_from(["F32", "F16", "BF16", "I64", "U8", "BOOL", "F64", "XX", ""])


@FUZZ
@given(tensors=st.dictionaries(
    st.text(max_size=24),
    st.fixed_dictionaries({"dtype": _dtypes,
                           "shape": st.lists(st.integers(-2, 2**40), max_size=3),
                           "data_offsets": st.lists(st.integers(-2, 2**40), max_size=3)}),
    max_size=3), meta=st.dictionaries(st.text(max_size=8), _json, max_size=3),
    body=st.binary(max_size=64), declared=st.integers(-4, 4))
def test_fuzzed_raw_safetensors_headers(tensors, meta, body, declared):
    header = dict(tensors)
    header["__metadata__"] = meta
    text = json.dumps(header).encode()
    length = max(0, len(text) + declared)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw.safetensors"
        path.write_bytes(struct.pack("<Q", length) + text + body)
        try:
            arrays, read = read_weights(path)
        except WeightsFileError:
            return
    assert isinstance(read, dict)
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in arrays.values())


@FUZZ
@given(data=st.binary(max_size=200), gz=st.booleans(), cut=st.integers(0, 64))
def test_fuzzed_idx_files_read_from_disk(data, gz, cut):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("f-idx3-ubyte.gz" if gz else "f-idx3-ubyte")
        payload = gzip.compress(data) if gz else data
        path.write_bytes(payload[:len(payload) - cut] if cut < len(payload) else payload)
        try:
            array = read_idx(path)
        except (IdxFormatError, DatasetError):
            return
    assert isinstance(array, np.ndarray) and array.ndim >= 1


@FUZZ
@given(dims=st.lists(st.integers(0, 4), min_size=1, max_size=3),
       code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
       extra=st.integers(-3, 3), seed=st.integers(0, 2**16))
def test_fuzzed_idx_headers_against_their_bodies(dims, code, extra, seed):
    itemsize = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}[code]
    size = int(np.prod(dims)) * itemsize
    body = np.random.default_rng(seed).bytes(max(0, size + extra))
    raw = bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + body
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h-idx"
        path.write_bytes(raw)
        try:
            array = read_idx(path)
        except IdxFormatError:
            assert len(body) != size  # refused: exactly when the body is the wrong size
            return
    assert len(body) == size and array.shape == tuple(dims)
