"""Ctrl-C and SIGTERM: the first one asks the loop to stop at the next safe point.

SIGTERM is what Slurm, Kubernetes and ``timeout`` send before they kill: it is treated like
the first Ctrl-C (checkpoint, register as interrupted, exit 130), not as an instant exit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopRequest:
    """Set by the first Ctrl-C or SIGTERM; a second one raises KeyboardInterrupt as usual."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""

    def __bool__(self) -> bool:
        return self.requested


@contextmanager
def graceful_sigint(on_first: str = "") -> Iterator[StopRequest]:
    """Within the block, Ctrl-C or SIGTERM sets the returned flag instead of raising (main
    thread only).

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
        stop.signal_name = signal.Signals(signum).name
        if on_first:
            print(on_first if signum == signal.SIGINT else f"{stop.signal_name}: {on_first}",
                  flush=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
