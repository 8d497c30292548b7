"""Ctrl-C handling: the first SIGINT asks the loop to stop at the next safe point."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopRequest:
    """Set by the first Ctrl-C; a second one raises KeyboardInterrupt as usual."""

    def __init__(self) -> None:
        self.requested = False

    def __bool__(self) -> bool:
        return self.requested


@contextmanager
def graceful_sigint(on_first: str = "") -> Iterator[StopRequest]:
    """Within the block, Ctrl-C sets the returned flag instead of raising (main thread only).

    Stopping between chunks of steps, never inside one, means the saved state is always a
    consistent step boundary, so an interrupted run resumes exactly.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True
        if on_first:
            print(on_first, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
