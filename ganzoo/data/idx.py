"""Reading and writing IDX files (the MNIST format), gzip-compressed or raw, with numpy only.

An IDX file is a 4-byte magic (``00 00 <type> <ndim>``), ``ndim`` big-endian uint32 dimensions,
then the values, big-endian, row-major. Every way a file can be wrong raises
:class:`IdxFormatError` naming the file and what is wrong; nothing else escapes the reader.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganzoo.data.errors import DatasetError, IdxFormatError

GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> numpy dtype (multi-byte values are big-endian on disk).
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MAX_BYTES = np.iinfo(np.intp).max
_CODES = {dtype.newbyteorder(">"): code for code, dtype in DTYPES.items()}


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX header declares."""

    dtype: np.dtype
    dims: tuple[int, ...]

    @property
    def size(self) -> int:
        """Header length in bytes."""
        return 4 + 4 * len(self.dims)

    @property
    def data_size(self) -> int:
        """Bytes of values the header promises."""
        return math.prod(self.dims) * self.dtype.itemsize

    def describe(self) -> str:
        """``IDX images file (10000 x 28 x 28, uint8)`` style summary."""
        kind = {1: "labels", 3: "images"}.get(len(self.dims), f"{len(self.dims)}-d")
        shape = " x ".join(str(d) for d in self.dims)
        return f"IDX {kind} file ({shape}, {self.dtype.name})"


def idx_header(dtype: np.dtype | type, dims: tuple[int, ...]) -> bytes:
    """The header bytes of an IDX file holding ``dims`` values of ``dtype``."""
    code = _CODES[np.dtype(dtype).newbyteorder(">")]
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def idx_bytes(array: np.ndarray) -> bytes:
    """The full IDX encoding of ``array`` (header + big-endian values)."""
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    return idx_header(array.dtype, array.shape) + np.ascontiguousarray(array, big).tobytes()


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip it when ``compress`` (default: name ends in .gz)."""
    path = Path(path)
    data = idx_bytes(array)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def gunzip(data: bytes, source: str, limit: int | None = None) -> bytes:
    """Decompress gzip ``data``, stopping after ``limit + 1`` bytes (enough to tell the content
    is longer than expected without inflating a forged or foreign file in full)."""
    inflater = zlib.decompressobj(wbits=31)  # 31: gzip wrapper; checks the CRC and length
    try:
        out = inflater.decompress(data, 0 if limit is None else limit + 1)
    except zlib.error as exc:
        raise IdxFormatError(
            f"{source}: corrupt gzip data ({exc}): the file is damaged."
        ) from None
    if limit is not None and len(out) > limit:
        return out
    if not inflater.eof:
        raise IdxFormatError(
            f"{source}: the gzip stream ends early ({len(data):,} bytes, cut before its end"
            " marker): the file is truncated, an interrupted copy or download?"
        )
    if inflater.unused_data.strip(b"\0"):
        # More after the first member: several gzip members (valid, rare) or trailing junk.
        try:
            return gzip.decompress(data)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise IdxFormatError(
                f"{source}: unreadable data after the gzip stream ({exc}): not a clean gzip file."
            ) from None
    return out


def read_content(path: str | Path, limit: int | None = None) -> bytes:
    """The decompressed bytes of ``path`` (gzip judged by content, not name), at most
    ``limit + 1`` of them when a limit is given."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read() if limit is None else file.read(limit + 1)
            if data[:2] == GZIP_MAGIC and limit is not None:
                data += file.read()  # the whole compressed file; gunzip applies the limit
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if data[:2] == GZIP_MAGIC:
        return gunzip(data, str(path), limit)
    return data


def parse_header(data: bytes, source: str) -> IdxHeader:
    """Validate the magic and the dimensions at the start of ``data``."""
    if len(data) < 4:
        raise IdxFormatError(
            f"{source}: {len(data)} bytes long, too short for an IDX header (4 bytes of magic"
            " at least): the file is empty or truncated."
        )
    magic = data[:4]
    if magic[:2] == GZIP_MAGIC:
        raise IdxFormatError(
            f"{source}: compressed twice (the decompressed content is gzip again); gunzip it"
            " once, or use the file as published."
        )
    if magic[0] or magic[1]:
        raise IdxFormatError(
            f"{source}: not an IDX file: it starts with bytes {magic.hex(' ')}, and an IDX file"
            " starts with 00 00 <type> <dimensions>."
        )
    code, ndim = magic[2], magic[3]
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in DTYPES)
        raise IdxFormatError(
            f"{source}: not an IDX file: unknown data type 0x{code:02x} in its magic"
            f" {magic.hex(' ')} (known: {known})."
        )
    if ndim == 0:
        raise IdxFormatError(f"{source}: not an IDX file: its magic declares 0 dimensions.")
    if len(data) < 4 + 4 * ndim:
        raise IdxFormatError(
            f"{source}: truncated header: it declares {ndim} dimensions ({4 + 4 * ndim} header"
            f" bytes) but the file ends after {len(data)} bytes."
        )
    header = IdxHeader(DTYPES[code], struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim]))
    # numpy refuses a shape whose non-zero sides multiply past its index range, even when
    # another side is 0 (found by the fuzz test): reject it here, by name.
    if math.prod(d for d in header.dims if d) * header.dtype.itemsize > _MAX_BYTES:
        raise IdxFormatError(
            f"{source}: not a usable IDX file: its dimensions {header.dims} are too large for"
            " any array."
        )
    return header


def check_size(header: IdxHeader, data: bytes, source: str) -> None:
    """That exactly the values the header promises follow it."""
    want, have = header.data_size, len(data) - header.size
    if have < want:
        raise IdxFormatError(
            f"{source}: truncated: its header declares an {header.describe()}, {want:,} bytes"
            f" of values, but only {have:,} follow."
        )
    if have > want:
        raise IdxFormatError(
            f"{source}: more bytes than its header declares ({header.describe()}, {want:,}"
            " bytes of values): not a clean IDX file (concatenated or corrupt?)."
        )


def to_array(header: IdxHeader, data: bytes) -> np.ndarray:
    """The values after the header as a writable, native-endian array of the declared shape."""
    values = np.frombuffer(data, header.dtype, math.prod(header.dims), offset=header.size)
    return values.astype(header.dtype.newbyteorder("="), copy=True).reshape(header.dims)


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse a complete IDX file held in memory (gunzipping it first when it is gzip)."""
    if data[:2] == GZIP_MAGIC:
        data = gunzip(data, source)
    header = parse_header(data, source)
    check_size(header, data, source)
    return to_array(header, data)


def read_idx(path: str | Path) -> np.ndarray:
    """Read a whole IDX file (gz or raw) into an array; a malformed one raises IdxFormatError."""
    return parse_idx(read_content(path), str(path))
