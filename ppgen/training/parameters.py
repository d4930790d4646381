"""The trainable tensors of a run: found by running the objective once, checked finite first.

:func:`discover_parameters` runs the objective once so that lazily created parameters exist
(``pyro.param``, ``pyro.module``, autoguides) and collects every trainable tensor: module
parameters, the unconstrained tensors behind ``pyro.param``, and an estimator's own (NVIL's
baseline).
"""

from __future__ import annotations

import pyro.poutine as poutine
import torch


def check_finite_parameters(modules) -> None:
    for module in modules:
        for name, param in module.named_parameters():
            if not torch.isfinite(param).all():
                raise ValueError(
                    f"parameter {name!r} of {type(module).__name__} is non-finite (NaN or inf) "
                    "before training; re-initialise the model"
                )


def discover_parameters(objective, model_fn, guide_fn, modules, args, kwargs):
    """``(param_names, parameters)``: the ``pyro.param`` names the programs use and every
    trainable tensor, after one call of the objective on ``args``/``kwargs``."""
    # Without gradients: nothing is learned here (and TraceEnum's differentiable_loss would
    # refuse a parameter-free pair before the clearer check below).
    with torch.no_grad(), poutine.trace(param_only=True) as capture:
        objective(model_fn, guide_fn, *args, **kwargs)
    # pyro.module's parameters and autoguides' appear as param sites too; dedupe by identity.
    parameters = {id(p): p for m in modules for p in m.parameters()}
    for site in capture.trace.nodes.values():
        unconstrained = site["value"].unconstrained()
        parameters.setdefault(id(unconstrained), unconstrained)
    for p in objective.parameters():  # estimators may own parameters (NVIL's baseline)
        parameters.setdefault(id(p), p)
    parameters = [p for p in parameters.values() if p.requires_grad]
    if not parameters:
        raise ValueError("the model and guide have no trainable parameters")
    return sorted(capture.trace.nodes), parameters
