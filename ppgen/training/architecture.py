"""What a checkpoint was written for: the model's class, its constructor options and every
parameter's shape, so that resuming into another architecture is refused by name.

Loading a FactorAnalysis checkpoint into a PPCA, or one with another ``latent_dim``, would
otherwise fail inside ``load_state_dict`` with torch's list of missing and unexpected keys (or,
for ``pyro.param`` values of the same size, silently succeed). :func:`describe_architecture`
records the facts; :func:`check_same_architecture` names the first kind of difference it finds.
"""

from __future__ import annotations

import pyro
import torch

from .checkpoint import CheckpointError

#: How many differing parameters a message lists before "and N more".
SHOWN = 4


def _qualified_name(obj) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def describe_architecture(modules: list[torch.nn.Module], param_names: list[str]) -> dict:
    """``{"classes", "options", "shapes"}``: the class and constructor options of each module
    (ppgen models record their options, :class:`~ppgen.models.GenerativeModel`), and the shape of
    every module parameter and ``pyro.param`` value, by name."""
    shapes = {}
    for index, module in enumerate(modules):
        for name, value in module.state_dict().items():
            shapes[f"module{index}.{name}"] = list(value.shape)
    for name in param_names:
        shapes[f"param.{name}"] = list(pyro.param(name).unconstrained().shape)
    return {
        "classes": [_qualified_name(m) for m in modules],
        "options": [getattr(m, "constructor_options", None) or {} for m in modules],
        "shapes": shapes,
    }


def _listed(items: list[str]) -> str:
    shown = "; ".join(items[:SHOWN])
    return shown + (f"; and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def check_same_architecture(saved: dict, current: dict, path) -> None:
    """Raise :class:`CheckpointError` naming how the checkpoint's architecture differs."""
    start = f"checkpoint {path} was written for another architecture"
    if saved["classes"] != current["classes"]:
        raise CheckpointError(
            f"{start}: the model is {', '.join(saved['classes']) or 'a plain Pyro pair'} there, "
            f"{', '.join(current['classes']) or 'a plain Pyro pair'} here"
        )
    options = [
        f"{key}={before.get(key)!r} there, {now.get(key)!r} here"
        for before, now in zip(saved["options"], current["options"])
        for key in sorted(set(before) | set(now))
        if before.get(key) != now.get(key)
    ]
    if options:
        raise CheckpointError(f"{start}: options differ ({_listed(options)})")
    before, now = saved["shapes"], current["shapes"]
    shapes = [
        f"{name}: {tuple(before[name])} there, {tuple(now[name])} here"
        for name in sorted(set(before) & set(now))
        if before[name] != now[name]
    ]
    shapes += [f"{name} only there" for name in sorted(set(before) - set(now))]
    shapes += [f"{name} only here" for name in sorted(set(now) - set(before))]
    if shapes:
        raise CheckpointError(f"{start}: parameters differ ({_listed(shapes)})")
