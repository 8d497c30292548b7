"""The dataset errors a user can hit; each message names the file or the places looked and the fix.

All are :class:`ganzoo.errors.DatasetError`, so the CLI shows them as one red message.
"""

from __future__ import annotations

from ganzoo.errors import DatasetError


class IdxFormatError(DatasetError):
    """Bytes that are not a well-formed IDX file: bad gzip, bad magic, truncated, trailing data."""


class DatasetMismatchError(DatasetError):
    """A well-formed IDX file that is not what the split needs (labels given as images, wrong
    image size, wrong count, a label outside the classes)."""


class ChecksumError(DatasetError):
    """A file whose decompressed content does not hash to the published sha256."""


class DatasetNotFoundError(DatasetError):
    """A split found nowhere: the message lists every place looked and how to fix it."""


class DownloadError(DatasetError):
    """Every mirror failed (network down, HTTP error, or a download that failed its checks)."""
