"""The arguments of every training step, drawn in ppgen's seeded row order.

:class:`StepBatches` walks the :class:`~ppgen.training.batch_order.BatchOrder` and turns each
global batch into this rank's call: the rows (all rows, with the plate told its rows, for a program
that subsamples itself; the unbatched arguments for a program without batched data), the
normalizer that turns the summed loss into a loss per data point (divided by the rank's share of
the batch, so that the ranks' losses add up to one process's loss on the whole batch), and the
context the step's loss runs in (the exact-equivalence test mode's noise).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from ..program.data_spec import DataSpec
from ..program.inspection import ProgramInfo
from .batch_order import BatchOrder
from .distributed.noise import GlobalBatchNoise
from .distributed.ranks import Ranks
from .minibatch import SubsampleIndices
from .plan import RunPlan


@dataclass
class StepCall:
    """One step's call on this rank: ``args is None`` where the rank has no rows in it."""

    args: tuple | None
    kwargs: dict | None
    normalizer: float
    noise: object


class StepBatches:
    """The calls of the run's steps (module docstring)."""

    def __init__(
        self,
        spec: DataSpec,
        plan: RunPlan,
        info: ProgramInfo,
        order: BatchOrder,
        generator: torch.Generator,
        indices: SubsampleIndices | None,
        ranks: Ranks,
    ):
        self.spec, self.plan, self.info = spec, plan, info
        self.order, self.generator, self.indices, self.ranks = order, generator, indices, ranks

    def call(self, index, part: slice | None = None) -> tuple[tuple, dict]:
        """The arguments for the rows ``index`` (``part`` of them on this rank), or the
        unbatched arguments."""
        if self.plan.kind == "unbatched":
            return self.spec.call()
        return self.spec.call(index, self.generator, part)

    def noise(self, offset: int, length: int, total: int):
        """The exact-equivalence test mode's noise for this part (:mod:`.distributed.noise`)."""
        if not self.plan.exact_noise or self.plan.kind == "unbatched":
            return nullcontext()
        return GlobalBatchNoise(self.info.data_plate, offset, length, total)

    def first_call(self) -> StepCall:
        """The call that creates lazy parameters: this rank's part of the first global batch (at
        least one row), all rows for a program that subsamples itself."""
        spec = self.spec
        rows = spec.num_rows or 1
        first_rows = rows if self.indices is not None else self.order.batch_size
        device = spec.first.device if spec.first is not None else None
        index = torch.arange(first_rows, device=device)
        part, noise = None, nullcontext()
        if self.plan.kind == "sliced":
            offset, length = self.ranks.part(first_rows)
            part = slice(offset, offset + max(length, 1))  # at least one row, for parameters
            noise = self.noise(offset, length, first_rows)
        args, kwargs = self.call(index, part)
        return StepCall(args, kwargs, 1.0, noise)

    def next(self) -> StepCall:
        """This rank's part of the next global batch."""
        index = self.order.next_index()  # the global batch
        offset, length = self.ranks.part(len(index))
        share = length / len(index)
        if self.plan.kind == "unbatched":  # each rank estimates the whole objective
            offset, length, share = 0, len(index), 1 / self.ranks.world_size
        noise = self.noise(offset, length, len(index))
        if length == 0:
            return StepCall(None, None, 1.0, noise)
        part = slice(offset, offset + length)
        normalizer = self.plan.minibatches.normalizer(length, self.spec.num_rows, self.info)
        if self.indices is not None:  # the program subsamples: all rows, the plate gets these
            self.indices.current = index[part]
            index, part = torch.arange(self.spec.num_rows, device=index.device), None
        args, kwargs = self.call(index, part)
        return StepCall(args, kwargs, normalizer / share, noise)
