"""The IDX reader: round trips, each malformation's typed error, and fuzzing with hypothesis."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ganzoo.data import IdxFormatError, parse_idx, read_idx, write_idx
from ganzoo.data.idx import idx_bytes, read_content
from ganzoo.errors import DatasetError

# GANZOO_FUZZ_EXAMPLES=20000 for a longer soak; 300 keeps the default run to a few seconds.
FUZZ = settings(max_examples=int(os.environ.get("GANZOO_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _images(n: int = 3) -> np.ndarray:
    return np.arange(n * 28 * 28, dtype=np.uint8).reshape(n, 28, 28)


def test_round_trip_raw_and_gzip(tmp_path):
    images = _images()
    for name in ("x-idx3-ubyte", "x-idx3-ubyte.gz"):
        path = write_idx(tmp_path / name, images)
        got = read_idx(path)
        assert got.dtype == np.uint8 and got.shape == (3, 28, 28)
        np.testing.assert_array_equal(got, images)
        assert got.flags.writeable  # torch.from_numpy warns on read-only arrays
    assert (tmp_path / "x-idx3-ubyte.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_gzip_is_detected_by_content_not_name(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"  # no .gz suffix, gzip content
    write_idx(path, np.arange(10, dtype=np.uint8), compress=True)
    np.testing.assert_array_equal(read_idx(path), np.arange(10))


def test_big_endian_values_decode():
    data = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 2) + struct.pack(">ii", 1, -2)
    assert parse_idx(data).tolist() == [1, -2]


def test_header_layout_matches_the_published_format():
    raw = idx_bytes(_images(2))
    assert raw[:4] == b"\x00\x00\x08\x03"
    assert struct.unpack(">3I", raw[4:16]) == (2, 28, 28)
    assert len(raw) == 16 + 2 * 28 * 28


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "too short"),
        (b"\x00\x00\x08", "too short"),
        (b"PK\x03\x04" + bytes(20), "not an IDX file"),
        (b"\x00\x00\x07\x01" + bytes(8), "unknown data type 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + bytes(8), "truncated header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 10) + bytes(9), "truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 10) + bytes(11), "more bytes than its header"),
        # A forged count promising gigabytes is caught without allocating them.
        (b"\x00\x00\x08\x03" + struct.pack(">3I", 2**32 - 1, 28, 28) + bytes(4), "truncated"),
        (b"\x00\x00\x08\x03" + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1),
         "too large for any array"),
        (gzip.compress(gzip.compress(idx_bytes(_images(1)))), "compressed twice"),
        # Found by the fuzz test: an empty array whose other sides overflow numpy's index range.
        (b"\x00\x00\x08\x04" + struct.pack(">4I", 0, 11915, 27818544, 27826673),
         "too large for any array"),
    ],
)
def test_each_malformation_raises_a_specific_error(data, words):
    with pytest.raises(IdxFormatError, match="my-file") as info:
        parse_idx(data, "my-file")
    assert words in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path):
    good = gzip.compress(idx_bytes(_images(50)))
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(IdxFormatError, match="ends early") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_is_caught_by_its_crc(tmp_path):
    good = bytearray(gzip.compress(idx_bytes(_images(50))))
    good[-6] ^= 0xFF  # inside the CRC32 trailer
    with pytest.raises(IdxFormatError, match="corrupt gzip"):
        parse_idx(bytes(good), "crc")


def test_multi_member_gzip_reads_whole_and_junk_after_it_fails():
    raw = idx_bytes(_images(2))
    two_members = gzip.compress(raw[:100]) + gzip.compress(raw[100:])
    np.testing.assert_array_equal(parse_idx(two_members), _images(2))
    with pytest.raises(IdxFormatError, match="after the gzip stream"):
        parse_idx(gzip.compress(raw) + b"junk", "junk")


def test_read_limit_stops_inflating_a_large_file(tmp_path):
    path = write_idx(tmp_path / "big.gz", np.zeros((1000, 28, 28), np.uint8))
    assert len(read_content(path, limit=100)) == 101


def test_missing_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="cannot be read"):
        read_idx(tmp_path / "nope.gz")


# -- fuzzing ------------------------------------------------------------------------------------


def _parses_or_typed_error(data: bytes) -> None:
    try:
        array = parse_idx(data, "fuzz")
    except IdxFormatError as exc:
        assert "fuzz" in str(exc)
    else:
        assert isinstance(array, np.ndarray)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data):
    _parses_or_typed_error(data)


@FUZZ
@given(
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0x0A, 0xFF]),
    dims=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), min_size=0, max_size=4),
    ndim_delta=st.integers(-1, 1),
    body=st.binary(max_size=200),
    compress=st.booleans(),
)
def test_fuzz_plausible_headers(code, dims, ndim_delta, body, compress):
    ndim = max(0, min(255, len(dims) + ndim_delta))
    data = bytes([0, 0, code, ndim]) + b"".join(struct.pack(">I", d) for d in dims) + body
    _parses_or_typed_error(gzip.compress(data) if compress else data)


@FUZZ
@given(array=hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=1, max_dims=4,
                                                                   max_side=6)),
       cut=st.integers(min_value=1), flip=st.integers(min_value=0), compress=st.booleans())
def test_fuzz_round_trip_then_damage(array, cut, flip, compress):
    raw = idx_bytes(array)
    data = gzip.compress(raw) if compress else raw
    np.testing.assert_array_equal(parse_idx(data), array)
    # Any cut is a typed error: the length check or the gzip end marker catches it.
    with pytest.raises(IdxFormatError):
        parse_idx(data[: cut % len(data)], "cut")
    # A flipped byte may still parse (a pixel, a gzip mtime) but never escapes untyped.
    damaged = bytearray(data)
    damaged[flip % len(data)] ^= 0xA5
    _parses_or_typed_error(bytes(damaged))
