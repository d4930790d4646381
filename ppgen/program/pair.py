"""A model/guide pair resolved for a call: its two programs, its data plate and plate nesting.

ppgen models declare their data plate and nesting; a user's pair is read off one trace
(:func:`ppgen.program.inspection.inspect_program`). Estimators and evaluations resolve once per
pair and reuse the answer, so a training step pays nothing for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.base import GenerativeModel
from .inspection import inspect_program


def split_pair(model) -> tuple[object, object, str | None, int | None]:
    """``(model_fn, guide_fn, data_plate, max_plate_nesting)`` for a ppgen model or a pair.

    A pair of bound methods of a ppgen model, ``(m.model, m.guide)``, gets the model's plate name
    and nesting; a pair of plain callables gets ``None`` for both: they are read off a trace of the
    program (:func:`ppgen.program.inspection.inspect_program`), whatever the plate is called.
    """
    if isinstance(model, GenerativeModel):
        return model.model, model.guide, model.data_plate, model.max_plate_nesting
    if isinstance(model, tuple) and len(model) == 2 and all(callable(f) for f in model):
        owner = getattr(model[0], "__self__", None)
        if isinstance(owner, GenerativeModel):
            return model[0], model[1], owner.data_plate, owner.max_plate_nesting
        return model[0], model[1], None, None
    raise TypeError(
        "model must be a ppgen GenerativeModel or a (model, guide) pair of Pyro callables, "
        f"got {type(model).__name__}"
    )


@dataclass(frozen=True)
class ResolvedPair:
    model_fn: object
    guide_fn: object
    data_plate: str | None
    nesting: int


def leading_rows(args: tuple, kwargs: dict) -> int | None:
    """The number of rows of the first tensor argument (positional first), or ``None``."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and value.dim():
            return value.shape[0]
    return None


def resolve_pair(
    model, args: tuple, kwargs: dict, *, data_plate=None, nesting: int | None = None
) -> ResolvedPair:
    """Resolve ``model`` (a :class:`~ppgen.models.GenerativeModel` or a ``(model, guide)``
    pair) for a call with ``args``/``kwargs``. ``data_plate``/``nesting`` override what the
    pair declares or a trace shows."""
    model_fn, guide_fn, declared_plate, declared_nesting = split_pair(model)
    plate = data_plate if data_plate is not None else declared_plate
    nesting = nesting if nesting is not None else declared_nesting
    if plate is None or nesting is None:
        info = inspect_program(
            model_fn, guide_fn, args, kwargs, data_plate=plate, num_rows=leading_rows(args, kwargs)
        )
        plate = info.data_plate
        nesting = info.nesting if nesting is None else nesting
    return ResolvedPair(model_fn, guide_fn, plate, nesting)


class PairCache:
    """Remembers the resolution of the last pair seen (estimators are called with one pair)."""

    def __init__(self, data_plate=None, nesting: int | None = None):
        self.data_plate, self.nesting = data_plate, nesting
        self._key, self._resolved = None, None

    def __call__(self, model, guide, args: tuple, kwargs: dict) -> ResolvedPair:
        key = (model, guide)
        if self._resolved is None or self._key != key:
            self._resolved = resolve_pair(
                (model, guide), args, kwargs, data_plate=self.data_plate, nesting=self.nesting
            )
            self._key = key
        return self._resolved
