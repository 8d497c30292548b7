"""The torch backend's launcher: ``ganzoo train`` as N torchrun ranks, Ctrl-C reaching each
rank once.

The core calls ``TorchBackend.launch(devices, argv)`` (:func:`launch` here) for ``--devices N``
and ``TorchBackend.rank()`` (:func:`rank`) to know which process speaks for the run.

In a terminal, Ctrl-C signals the whole foreground process group: the ranks *and* torchrun's
agent, which then forwards a second SIGINT to every rank (a rank would take it for the
"Ctrl-C again to abort" press) and ends with a traceback of its own. So the agent runs in a
session of its own, out of the terminal's reach, and this process forwards each Ctrl-C to the
ranks alone: one press, one signal per rank; a second press aborts, as in a single process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path


def child_pids(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """The processes whose parent is ``pid`` (Linux ``/proc``; empty where there is none)."""
    children = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        # The command name (in parentheses) may hold spaces; the parent pid follows it.
        fields = text[text.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            children.append(int(stat.parent.name))
    return sorted(children)


def torchrun_command(devices: int, argv: list[str]) -> list[str]:
    """torchrun (as ``python -m torch.distributed.run``) re-running ``ganzoo argv``."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={devices}", "-m", "ganzoo", *argv]


def rank() -> int | None:
    """This process's rank under torchrun (its ``RANK``), None when torchrun did not start it."""
    value = os.environ.get("RANK")
    return None if value is None else int(value)


def launch(devices: int, argv: list[str]) -> int:
    """Re-run ``ganzoo argv`` as ``devices`` torchrun ranks; the launch's exit code."""
    command = torchrun_command(devices, argv)
    print(f"Launching {devices} ranks: {' '.join(command[1:])}", flush=True)
    return run_ranks(command, devices)


def run_ranks(command: list[str], devices: int) -> int:
    """Run ``command`` (a torchrun launch of ``devices`` ranks) to the end; its exit code."""
    env = dict(os.environ)
    # Each rank's share of the cores (torchrun would set 1 and print a banner about it); the
    # torch trainer makes the same choice, this covers what runs before it.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // devices)))
    agent = subprocess.Popen(command, start_new_session=True, env=env)

    def forward_interrupt(signum: int, frame: object) -> None:
        ranks = child_pids(agent.pid)
        for pid in ranks or [agent.pid]:  # no /proc: the agent forwards it itself
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(pid, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, forward_interrupt)
    try:
        return agent.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
