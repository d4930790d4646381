"""The program traced on its first batch, before any training step, and how it meets minibatches.

:func:`probe_program` traces the pair on the first batch (on all rows where the program needs them:
an autoguide that sizes itself by its first call, a program that subsamples its own plate or whose
plates are sized for all rows), with the random state forked so that it draws nothing training
would, and returns the :class:`~ppgen.program.inspection.ProgramInfo` and the
:class:`~ppgen.training.minibatch.MinibatchPlan`.
"""

from __future__ import annotations

import torch

from ..program.data_spec import DataSpec
from ..program.errors import PROGRAM_FAILURES, ProgramError, first_line, run_named
from ..program.inspection import sets_up_on_first_call, trial_params
from ..program.program import Program
from ..program.random_state import forked_random_state
from .minibatch import plan_minibatches
from .streaming import StreamedSpec


def probe_program(program: Program, spec: DataSpec, batch_size, scales_itself: bool) -> tuple:
    """``(info, plan)``: the program traced on its first batch (all rows where it needs them),
    and how it meets minibatches. Runs with the random state forked: it draws nothing that
    training would."""
    if spec.num_rows is None:
        with forked_random_state():
            info = program.inspect(*spec.call())
        return info, plan_minibatches(info, None, None, scales_itself=scales_itself)
    rows = batch_size or spec.num_rows
    streamed = isinstance(spec, StreamedSpec)
    if sets_up_on_first_call(program.guide_fn) and not streamed:  # an autoguide sizes itself
        rows = spec.num_rows
    device = spec.first.device

    def inspect(count):
        index = torch.arange(count, device=device)
        with forked_random_state():
            args, kwargs = spec.call(index)
            if count == spec.num_rows:
                return program.inspect(args, kwargs, num_rows=count)
            # On part of the rows: parameters sized by this first call must not stay.
            with trial_params():
                return program.inspect(args, kwargs, num_rows=count)

    try:
        info = inspect(rows)
        needs_all = info.subsamples and rows < spec.num_rows
        failure = None
    except PROGRAM_FAILURES as error:
        if rows == spec.num_rows:
            raise ProgramError(f"the program fails on its data: {first_line(error)}") from error
        needs_all, failure = True, error
    if needs_all and streamed:
        raise ProgramError(
            f"the data is streamed, but the program needs all {spec.num_rows} rows at once (it "
            "subsamples its own plate, or its plates are sized for all rows); stream only to "
            "programs whose data plate is sized by the batch: pyro.plate(name, len(x))"
        ) from failure
    if needs_all:  # it subsamples itself, or its plates are sized for all rows
        info = run_named(lambda: inspect(spec.num_rows), "the program, on all rows,")
        if not info.subsamples:
            raise ProgramError(
                f"the program fails on a minibatch of {rows} rows ({first_line(failure)}) "
                f"but runs on all {spec.num_rows}: its plates are sized for all rows. Pass "
                "batch_size=None, or size the data plate by its data: pyro.plate(name, len(x))"
            ) from failure
        rows = spec.num_rows
    plan = plan_minibatches(
        info, spec.num_rows, batch_size, scales_itself=scales_itself, traced_rows=rows
    )
    return info, plan
