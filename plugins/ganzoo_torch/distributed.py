"""Several devices: ``ganzoo train`` launched as N torchrun ranks, and data parallelism over
torch.distributed inside each rank.

**Training** (:class:`World`, :func:`join_world`). Every rank holds the same networks (same
seed, same initialisation), takes its shard of each global batch and draws its own noise;
before every optimiser step the gradients are averaged with one all-reduce per network, which
is what DistributedDataParallel does. The DDP wrapper itself is not used because the GAN steps
call the discriminator several times per update and back-propagate into one network at a time
(``backward(inputs=...)``, ``autograd`` partial graphs), which DDP's bucketed hooks do not
support.

**Launching** (:func:`launch`, :func:`rank`). The core calls ``TorchBackend.launch(devices,
argv)`` for ``--devices N`` and ``TorchBackend.rank()`` to know which process speaks for the
run. In a terminal, Ctrl-C signals the whole foreground process group: the ranks *and*
torchrun's agent, which then forwards a second SIGINT to every rank (a rank would take it for
the "Ctrl-C again to abort" press) and ends with a traceback of its own. So the agent runs in a
session of its own, out of the terminal's reach, and this process forwards each Ctrl-C to the
ranks alone: one press, one signal per rank; a second press aborts, as in a single process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the ranks (a world of one when not distributed)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of a global batch."""
        if not self.distributed:
            return batch
        per_rank = batch.shape[0] // self.size
        return batch[self.rank * per_rank:(self.rank + 1) * per_rank]

    def average_gradients(self, params: Sequence[torch.nn.Parameter]) -> None:
        """Average ``params``' gradients over the ranks (one flattened all-reduce)."""
        if not self.distributed:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.size
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n

    def broadcast_buffers(self, buffers: Sequence[torch.Tensor]) -> None:
        """Copy rank 0's buffers (batch-norm statistics) to every rank, as DDP does per step."""
        if not self.distributed or not buffers:
            return
        flat = torch.cat([b.reshape(-1).float() for b in buffers])
        dist.broadcast(flat, src=0)
        offset = 0
        for b in buffers:
            n = b.numel()
            b.copy_(flat[offset:offset + n].view_as(b))
            offset += n

    def average(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over the ranks (metrics read back once per chunk)."""
        if self.distributed:
            values = values.clone()
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
            values /= self.size
        return values

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when it is true on any (a Ctrl-C on one rank stops all)."""
        if not self.distributed:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def leave(self) -> None:
        """Leave the process group together: a barrier, then its teardown.

        Tearing down while a peer is still using its connections aborts the process (gloo:
        "terminate called without an active exception"); the barrier makes every rank finish
        its collectives before any rank closes them.
        """
        if self.distributed and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def join_world(device_kind: str) -> World:
    """Join the process group torchrun describes in the environment (or a world of one)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    this_rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", this_rank))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return World(this_rank, size, local_rank)


# -- launching the ranks -------------------------------------------------------------------


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
