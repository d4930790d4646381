"""Who this process is among the ranks of a run, and which rows of each step are its own.

A step of a data-parallel run takes one *global batch* of ``W * B`` rows (``W`` ranks,
``batch_size`` ``B``) from the seeded order every rank computes alike
(:class:`~ppgen.training.batch_order.BatchOrder`); rank ``r`` keeps the ``r``-th contiguous part.
So the union of a step's parts is exactly the batch a single process with ``batch_size=W*B``
would take, every training row is used once per epoch across ranks, and rank 0's rows come first
(what the exact-equivalence test mode relies on). A sampler in the manner of PyTorch's
``DistributedSampler`` (``rank::world_size``) would use each row once per epoch too, but a step's
rows would not be one process's batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """This process's ``rank`` among ``world_size`` processes (``world_size == 1``: no
    distribution, nothing is synchronised)."""

    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files, logs and draws the progress bar."""
        return self.rank == 0

    def part(self, count: int) -> tuple[int, int]:
        """``(offset, length)`` of this rank's contiguous part of ``count`` rows: the first
        ``count % world_size`` ranks take one row more."""
        base, extra = divmod(count, self.world_size)
        offset = self.rank * base + min(self.rank, extra)
        return offset, base + (self.rank < extra)

    def seed(self, seed: int) -> int:
        """This rank's seed for the noise of its programs: ``seed`` itself on rank 0 (a
        one-process run is unchanged), an independent stream per other rank."""
        if self.rank == 0:
            return seed
        return int(np.random.SeedSequence([seed, self.rank]).generate_state(1)[0])


#: The ranks of a run on one process.
ONE_PROCESS = Ranks()


def current_ranks() -> Ranks:
    """The ranks of the ``torch.distributed`` default group, or one process where none is
    initialised."""
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks()


def local_device(device: torch.device) -> torch.device:
    """On CUDA, each process of a node takes its own GPU (``LOCAL_RANK``, set by the launcher)
    unless a device index was given."""
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def init_from_environment() -> Ranks:
    """Join the process group a launcher (``torchrun``, SLURM via ``torchrun``) described in
    the environment (``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR``...): gloo for CPU tensors, and
    NCCL for CUDA tensors where CUDA is present (so ``device="cpu"`` works on a GPU machine too).
    Nothing to do for one process or a group already initialised."""
    if not dist.is_available() or dist.is_initialized():
        return current_ranks()
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Ranks()
    backend = "gloo"
    if torch.cuda.is_available():
        backend = "cpu:gloo,cuda:nccl"
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return current_ranks()
