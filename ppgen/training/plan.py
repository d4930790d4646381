"""``RunPlan``: how a run goes, decided once before its first step.

From the settings, the program's trace and the data: how the program meets minibatches
(:class:`~ppgen.training.minibatch.MinibatchPlan`), the rows of a step and of an epoch, the budget
in steps and the cadences of log rows, validation and checkpoints, whether the step runs from a
compiled trace, and whether the distributed exact-equivalence test mode is on. The loop reads the
plan; nothing downstream decides any of these again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..models.base import GenerativeModel
from ..program.inspection import ProgramInfo
from .compiled import is_traceable
from .distributed.ranks import Ranks
from .minibatch import MinibatchPlan
from .settings import DEFAULT_MAX_STEPS, FitSettings

#: Default validation cadence floor: a 20-step run validates twice, not 20 times.
MIN_VAL_EVERY = 10


@dataclass(frozen=True)
class RunPlan:
    """The decisions of a run (module docstring). ``rows_per_batch``: the rows of one global
    step (all rows for full batches); ``epoch_rows``: the rows of one pass over the data;
    ``order_rows``: the rows the batch order walks (the plate's for a program that subsamples
    itself)."""

    minibatches: MinibatchPlan
    total_steps: int
    log_every: int
    val_every: int
    checkpoint_every: int
    rows_per_batch: int
    epoch_rows: int
    order_rows: int
    compiled: bool
    exact_noise: bool
    adversary_steps: int

    @property
    def kind(self) -> str:
        return self.minibatches.kind

    def epoch(self, step: int, position: int) -> float:
        """Passes over the data after ``step`` model steps (adversary batches count), the batch
        order standing at ``position``."""
        steps_taken = step * (1 + self.adversary_steps)
        if self.kind in ("program", "unbatched"):
            return steps_taken * self.rows_per_batch / self.epoch_rows
        batches_per_epoch = math.ceil(self.epoch_rows / self.rows_per_batch)
        return (steps_taken - 1) // batches_per_epoch + position / self.epoch_rows


def global_batch_rows(minibatches: MinibatchPlan, info: ProgramInfo, num_rows, ranks: Ranks):
    """``(order_rows, rows per global step)``: what the batch order walks and takes per step."""
    if minibatches.kind == "program":  # ppgen's order of the plate's rows (minibatch.py)
        return info.full_size, info.num_points * ranks.world_size
    rows = num_rows or 1
    return rows, (minibatches.batch_size or rows) * ranks.world_size


def budget(settings: FitSettings, rows_per_batch: int, epoch_rows: int, adversary_steps: int):
    """``(total_steps, log_every, val_every, checkpoint_every)``; ``steps="converged"`` counts
    its cap."""
    if settings.epochs is not None:
        batches_per_epoch = math.ceil(epoch_rows / rows_per_batch)
        total = math.ceil(settings.epochs * batches_per_epoch / (1 + adversary_steps))
    elif settings.until_converged:
        total = settings.max_steps or DEFAULT_MAX_STEPS
    else:
        total = settings.steps
    log_every = settings.log_every or max(1, total // 200)
    if settings.until_converged:  # it judges the validation curve on every log step
        sparse = val_sparse = log_every
    else:
        sparse = max(log_every, total // 20)
        # A validation is a pass over the validation data, often dearer than a training step:
        # short runs validate at most once per MIN_VAL_EVERY steps (and at the end).
        val_sparse = max(sparse, min(total, MIN_VAL_EVERY))
    val_every = settings.val_every or val_sparse
    checkpoint_every = settings.checkpoint_every or settings.val_every or sparse
    return total, log_every, val_every, checkpoint_every


def use_compile(model, objective, minibatches: MinibatchPlan, settings: FitSettings) -> bool:
    """``compile="auto"``: a checked trace for an ELBO without state between steps, for every
    ppgen model that declares itself ``traceable`` and every user's pair (whose traces are
    checked for data-dependent control flow, :mod:`ppgen.training.compiled`), except a program
    that subsamples its own plate (the plate's random rows would be frozen in a trace) and the
    distributed test mode (its noise is drawn outside the program)."""
    if settings.exact_noise:
        return False
    if settings.compile is True:
        return True
    if isinstance(model, GenerativeModel) and not model.traceable:
        return False
    return settings.compile == "auto" and is_traceable(objective) and minibatches.kind != "program"


def make_plan(model, objective, minibatches, info, num_rows, settings, ranks) -> RunPlan:
    """The :class:`RunPlan` of a run whose program is described by ``info`` and ``minibatches``
    (``num_rows``: the rows of the data, ``None`` for a program without batched data)."""
    order_rows, global_rows = global_batch_rows(minibatches, info, num_rows, ranks)
    sliced = minibatches.kind in ("sliced", "program")
    rows_per_batch = global_rows if sliced else (num_rows or 1)
    epoch_rows = info.full_size if minibatches.kind == "program" else (num_rows or 1)
    cadence = budget(settings, rows_per_batch, epoch_rows, objective.adversary_steps)
    return RunPlan(
        minibatches,
        *cadence,
        rows_per_batch=rows_per_batch,
        epoch_rows=epoch_rows,
        order_rows=order_rows,
        compiled=use_compile(model, objective, minibatches, settings),
        exact_noise=settings.exact_noise,
        adversary_steps=objective.adversary_steps,
    )


def check_splittable(minibatches: MinibatchPlan, streamed_rows, settings, ranks: Ranks) -> None:
    """A data-parallel run splits each step's rows over the ranks, and streamed data
    (``streamed_rows``: its number of rows, else ``None``) comes a minibatch at a time; refuse
    what cannot be split."""
    if streamed_rows is not None and minibatches.kind != "sliced":
        raise ValueError(
            f"the data is streamed ({streamed_rows} rows read batch by batch), so training needs "
            "minibatches: pass batch_size=B"
        )
    if settings.exact_noise and settings.compile is True:
        raise ValueError("distributed_noise='global_batch' runs eagerly; use compile=False")
    if ranks.active and minibatches.kind == "full":
        raise ValueError(
            f"data-parallel training on {ranks.world_size} processes splits each step's rows "
            "between them, but this run takes every row every step (batch_size=None, or a "
            "program whose plates are sized for all rows). Pass batch_size=B (rows per process "
            "per step), or let the program subsample its data plate "
            "(pyro.plate(name, len(x), subsample_size=B))"
        )
