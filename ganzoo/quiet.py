"""Keeping TensorFlow's start-up log lines off the terminal (stderr stays for real errors)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

# TensorFlow's C++ start-up lines (oneDNN notices, "All log messages before
# absl::InitializeLog() ..."): informational, written straight to file descriptor 2, so
# TF_CPP_MIN_LOG_LEVEL does not reach them.
STARTUP_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|"
                           r"[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\])")


def _flush_c_stdio() -> None:
    """Flush C stdio buffers (native code may hold its stderr lines until exit)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        import ctypes

        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hold back what is written to file descriptor 2; replay all but the start-up noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            _flush_c_stdio()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode(errors="replace").splitlines()
                    if not STARTUP_NOISE.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def quiet_absl() -> None:
    """absl's Python logging at ERROR and above only (TensorFlow's warnings go through it)."""
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
