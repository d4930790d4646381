"""What a caller passed as a model, split into its two programs, and the modules behind them.

A ppgen model declares its data plate and nesting; a user's pair is read off one trace
(:class:`ppgen.program.program.Program`, the entry point built on these).
"""

from __future__ import annotations

import torch

from ..models.base import GenerativeModel


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


def leading_rows(args: tuple, kwargs: dict) -> int | None:
    """The number of rows of the first tensor argument (positional first), or ``None``."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and value.dim():
            return value.shape[0]
    return None


def owned_modules(*fns) -> list[torch.nn.Module]:
    """The ``nn.Module`` objects behind a model and guide (modules, or their bound methods)."""
    found = []
    for fn in fns:
        owner = fn if isinstance(fn, torch.nn.Module) else getattr(fn, "__self__", None)
        if isinstance(owner, torch.nn.Module) and all(owner is not m for m in found):
            found.append(owner)
    return found
