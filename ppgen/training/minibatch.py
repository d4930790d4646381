"""How a program meets minibatches: decided once, from one trace, before any training step.

Three ways a Pyro program can see its data, told apart by the data plate's sizes in a trace on
the first batch (:class:`~ppgen.program.inspection.ProgramInfo`):

- ``"sliced"``: the plate is sized by the data it is given (``pyro.plate("data", len(x))``).
  ``fit`` passes the minibatch's rows. A program with global latents then needs the scale Pyro's
  subsampling would give, ``num_rows / batch`` on every site in the data plate, or its prior and
  guide terms would weigh ``num_rows / batch`` times too much; :class:`DataPlateScale` applies it.
  Parameters that belong to particular rows (an AutoNormal guide on local latents) cannot follow
  rows the program never sees: refused, with the fix.
- ``"program"``: the program subsamples its own plate (``pyro.plate("data", len(x),
  subsample_size=64)`` and ``x[idx]``, Pyro's idiom for per-row guides). ``fit`` passes all rows
  every step and hands the plate its rows (:class:`SubsampleIndices`): ppgen's seeded order,
  every row once per epoch, instead of Pyro's independent random draws. Pyro's plate scales, and
  the model replays the guide's rows, so per-row parameters stay aligned.
- ``"full"``: every row every step, in their own order; ``"unbatched"``: a program without
  batched data (``data=None``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyro.poutine.messenger import Messenger
from pyro.poutine.subsample_messenger import _Subsample

from ..program.errors import ProgramError
from ..program.inspection import ProgramInfo


class DataPlateScale(Messenger):
    """Scales every sample site inside the plate ``plate`` by ``num_rows / plate size``: the
    scale Pyro's own subsampling gives, for a plate that is sized by its minibatch."""

    def __init__(self, plate: str, num_rows: int):
        super().__init__()
        self.plate, self.num_rows = plate, num_rows

    def _process_message(self, msg):
        if msg["type"] != "sample":
            return
        for frame in msg["cond_indep_stack"]:
            if frame.name == self.plate and frame.vectorized:
                msg["scale"] = msg["scale"] * (self.num_rows / frame.size)
                return


class SubsampleIndices(Messenger):
    """Hands a self-subsampling plate the rows of the current step (``current``, set by the
    training loop). Only where the program left the choice to Pyro (no ``subsample=``) and the
    sizes agree; otherwise (the short last batch of an epoch, a trial call) Pyro draws."""

    def __init__(self, plate: str):
        super().__init__()
        self.plate = plate
        self.current = None  # (subsample_size,) row indices, or None

    def _pyro_sample(self, msg):
        fn = msg["fn"]
        if (
            self.current is not None
            and msg["name"] == self.plate
            and isinstance(fn, _Subsample)
            and msg["value"] is None
            and fn.subsample_size == len(self.current)
        ):
            msg["value"] = self.current


@dataclass(frozen=True)
class MinibatchPlan:
    """What ``fit`` passes each step and how it normalizes the loss (module docstring)."""

    kind: str  # "sliced", "program", "full" or "unbatched"
    batch_size: int | None  # rows passed per step (None: all, or no batched data)
    scale_plate: str | None  # the plate DataPlateScale scales, or None

    def wrap(self, fn, num_rows: int):
        """``fn`` with the minibatch scale applied where the plan needs it."""
        return fn if self.scale_plate is None else DataPlateScale(self.scale_plate, num_rows)(fn)

    def normalizer(self, rows_in_step: int, num_rows: int | None, info: ProgramInfo) -> float:
        """The number of data points the loss of a step with ``rows_in_step`` rows covers."""
        if self.kind == "unbatched":  # the data plate's full size (it scales to it), or 1
            return info.full_size or 1
        if self.kind == "program":
            return info.full_size or num_rows
        if self.scale_plate is not None:
            return num_rows
        return rows_in_step


def per_row_message(info: ProgramInfo, batch_size: int, num_rows: int) -> str:
    plate = info.data_plate
    return (
        f"the guide has parameters that belong to particular rows ({', '.join(info.per_row_params)}"
        f", inside plate {plate!r}), but with batch_size={batch_size} of {num_rows} rows the "
        f"program would see only each batch's rows, sized pyro.plate({plate!r}, len(x)), and "
        "the parameters would be paired with other rows at every step. Either train full-batch "
        f"(batch_size=None), or let the program subsample: with pyro.plate({plate!r}, len(x), "
        "subsample_size=B) as idx: ... obs=x[idx] (and the same plate in the guide, or an "
        "autoguide), and pass batch_size=None: Pyro then picks the rows and the guide's "
        "parameters follow them"
    )


def plan_minibatches(
    info: ProgramInfo,
    num_rows: int | None,
    batch_size: int | None,
    *,
    scales_itself: bool,
    traced_rows: int | None = None,
) -> MinibatchPlan:
    """The plan for a program described by ``info``, traced on ``traced_rows`` rows (default
    ``min(batch_size, num_rows)``). ``scales_itself``: a ppgen model that scales its global
    terms itself."""
    if num_rows is None:
        return MinibatchPlan("unbatched", None, None)
    if info.subsamples:
        return MinibatchPlan("program", None, None)
    if batch_size is None or batch_size >= num_rows:
        return MinibatchPlan("full", None, None)
    if info.data_plate is None:
        raise ProgramError(
            f"batch_size={batch_size}: ppgen splits the {num_rows} rows into minibatches, but "
            "the observed sites share no vectorized plate over them (plates: "
            f"{info.describe_plates()}); pass batch_size=None, or name the plate over data "
            "points with data_plate="
        )
    traced_rows = traced_rows or min(batch_size, num_rows)
    if info.num_points != traced_rows:
        raise ProgramError(
            f"batch_size={batch_size}: given {traced_rows} rows, the program's data plate "
            f"{info.data_plate!r} has size {info.num_points}; minibatches "
            f"need a plate sized by its data (pyro.plate({info.data_plate!r}, len(x))). Pass "
            "batch_size=None to train on all rows"
        )
    if info.per_row_params:
        raise ProgramError(per_row_message(info, batch_size, num_rows))
    scale = info.data_plate if (info.global_latents and not scales_itself) else None
    return MinibatchPlan("sliced", batch_size, scale)
