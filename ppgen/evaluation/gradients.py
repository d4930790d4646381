"""Gradient-estimator statistics at fixed parameters: mean, variance, signal-to-noise, time.

``gradient_stats`` draws ``num_repeats`` independent gradient estimates of the per-datapoint loss on
the same batch and parameters, splits the parameters into the model's and the guide's (a parameter
belongs to the guide when ``log q`` depends on it), and summarizes each group:

- ``variance``: the trace of the estimates' covariance, ``sum_i Var[g_i]``;
- ``mean_norm``: the norm of the mean estimate, ``||E g||``;
- ``snr``: the mean over coordinates of ``|E g_i| / std g_i`` (Rainforth et al. 2018);
- ``seconds``: wall time per estimate;
- ``evaluations``: runs of the model per estimate (ARM, DisARM, REBAR and RLOO spend several),
  and ``variance_at_equal_cost``, ``variance * evaluations``: the variance of an average of
  estimates that spends as many model runs as one single-run estimate's average would;
- with ``reference=``: ``bias`` (the norm of mean estimate minus the reference gradient),
  ``bias_se`` (its standard error, the estimates' and the reference's), ``mse`` (``bias^2 +
  variance``) and ``reference`` (how the reference was had, :mod:`ppgen.evaluation
  .reference_gradient`).

Groups are ``model``, ``guide`` and ``estimator`` (an estimator's own parameters: NVIL's
baseline network, REBAR's temperature and scale, RELAX's networks), where it has any.
"""

from __future__ import annotations

import time

import pandas as pd
import pyro.poutine as poutine
import torch

from ..inference.objective import resolve_objective
from ..inference.requirements import check_estimator, declared_estimators
from ..program.inspection import program_traces
from ..program.pair import owned_modules
from ..program.program import Program, read_program
from ..validation import check_int_at_least
from .reference_gradient import reference_gradient


def parameter_groups(model, x, **kwargs) -> dict[str, list]:
    """``{"model": [...], "guide": [...]}`` for a ppgen model or a pair on data ``x``; a
    parameter is the guide's if ``log q`` uses it."""
    program = Program.of(model)
    args, call_kwargs = program.data(x, kwargs).call()
    with program.scope():
        parameters = _program_parameters(*program.pair, args, call_kwargs)
        return _split_groups(program.guide_fn, parameters, args, call_kwargs)


def _program_parameters(model_fn, guide_fn, args, kwargs) -> list:
    """Every trainable tensor the programs read: module parameters and ``pyro.param`` values."""
    with poutine.trace(param_only=True) as capture:
        model_trace, _ = program_traces(model_fn, guide_fn, args, kwargs)
    found = {id(p): p for m in owned_modules(model_fn, guide_fn) for p in m.parameters()}
    for site in capture.trace.nodes.values():
        unconstrained = site["value"].unconstrained()
        found.setdefault(id(unconstrained), unconstrained)
    return [p for p in found.values() if p.requires_grad]


def _split_groups(guide_fn, parameters, args, kwargs) -> dict[str, list]:
    """The guide's parameters are those its draws depend on: through ``log q`` (a Gaussian's
    scale), or through the drawn values themselves (an ``AutoDelta`` guide's point estimates,
    whose ``log q`` is the constant 0 and has no graph)."""
    trace = poutine.trace(guide_fn).get_trace(*args, **kwargs)
    dependence = trace.log_prob_sum()
    for site in trace.nodes.values():
        if site["type"] == "sample" and site["value"].is_floating_point():
            dependence = dependence + site["value"].sum()
    guide_ids = set()
    if torch.is_tensor(dependence) and dependence.requires_grad:
        grads = torch.autograd.grad(dependence, parameters, allow_unused=True)
        guide_ids = {id(p) for p, g in zip(parameters, grads) if g is not None}
    return {
        "model": [p for p in parameters if id(p) not in guide_ids],
        "guide": [p for p in parameters if id(p) in guide_ids],
    }


def gradient_stats(
    model,
    x,
    estimator="trace",
    num_repeats: int = 100,
    num_particles: int | None = None,
    *,
    data_plate: str | None = None,
    reference=None,
    **kwargs,
) -> pd.DataFrame:
    """Statistics of ``num_repeats`` gradient estimates at the current parameters.

    Args:
        model: a ppgen model or a ``(model, guide)`` pair of Pyro callables.
        x: the batch the programs take (a tensor of any shape, a tuple or dict of tensors); the
            loss is per row (divided by the number of rows).
        estimator: a registered name, a Pyro ELBO, or an estimator/loss callable (e.g. a trained
            ``get_estimator("tracegraph", baseline="nvil")``, whose baseline state is used).
        num_repeats: independent estimates to draw (at least 2).
        num_particles: particles for a named estimator; ``None`` for its own default.
        data_plate: the plate over data points, where the program's trace cannot tell it.
        reference: ``None``; ``"enumerate"`` for the exact ELBO gradient (Pyro enumerates the
            guide's discrete sites); or a number of high-sample estimates to average.
        kwargs: passed to model and guide.

    Returns:
        One row per parameter group with ``estimator``, ``group``, ``num_params``, ``mean_norm``,
        ``variance``, ``snr``, ``seconds``, ``evaluations``, ``variance_at_equal_cost`` (and
        ``bias``, ``bias_se``, ``mse``, ``reference`` with ``reference=``).
    """
    check_int_at_least(num_repeats, "num_repeats", 2)
    call = read_program(model, x, kwargs, data_plate=data_plate)
    model_fn, guide_fn = call.program.pair
    spec = call.spec
    args, call_kwargs = spec.call()
    with call.program.scope():
        objective, name = resolve_objective(estimator, None, num_particles, call.nesting)
        check_estimator(objective, call.info)
        objective.set_data_plate(call.data_plate)
        parameters = _program_parameters(model_fn, guide_fn, args, call_kwargs)
        groups = _split_groups(guide_fn, parameters, args, call_kwargs)
        groups["estimator"] = [p for p in objective.parameters() if p.requires_grad]
        estimates, seconds = _estimates(
            objective,
            model_fn,
            guide_fn,
            groups,
            args,
            call_kwargs,
            num_repeats,
            spec.num_rows or 1,
        )
        flat = groups["model"] + groups["guide"] + groups["estimator"]
        found = reference is not None and reference_gradient(
            reference, model_fn, guide_fn, flat, args, call_kwargs, spec.num_rows or 1,
            call.nesting, call.data_plate,
        )  # fmt: skip
    table = _summaries(estimates, groups, name, seconds, found or None)
    return table.assign(evaluations=evaluations(objective, call.info)).assign(
        variance_at_equal_cost=lambda t: t["variance"] * t["evaluations"]
    )


def evaluations(objective, info) -> int:
    """Runs of the model per estimate: the estimator's count where it declares one, else its
    number of particles (1 for a loss without any)."""
    for estimator in declared_estimators(objective):
        return estimator.model_evaluations(info)
    inner = getattr(objective, "estimator", objective)
    return int(getattr(inner, "num_particles", 1))


def _estimates(objective, model_fn, guide_fn, groups, args, kwargs, num_repeats, rows):
    """``(num_repeats, total parameters)`` gradient estimates and the seconds per estimate."""
    params = groups["model"] + groups["guide"] + groups["estimator"]
    estimates = []
    start = time.perf_counter()
    for _ in range(num_repeats):
        loss = objective(model_fn, guide_fn, *args, **kwargs) / rows
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        estimates.append(torch.cat([g.flatten() for g in grads]))
    return torch.stack(estimates), (time.perf_counter() - start) / num_repeats


def _summaries(estimates, groups, name, seconds, reference=None) -> pd.DataFrame:
    rows, offset = [], 0
    for group in ("model", "guide", "estimator"):
        size = sum(p.numel() for p in groups[group])
        if group == "estimator" and size == 0:
            continue
        block = estimates[:, offset : offset + size]
        part = slice(offset, offset + size)
        offset += size
        row = {"estimator": name, "group": group, "num_params": size, "seconds": seconds}
        if size == 0:  # e.g. a model without parameters of its own: nothing to summarize
            rows.append({**row, "mean_norm": 0.0, "variance": 0.0, "snr": float("nan")})
            continue
        mean, std = block.mean(0), block.std(0)
        varying = std > 0
        snr = (mean[varying].abs() / std[varying]).mean() if varying.any() else torch.tensor(0.0)
        row.update(mean_norm=float(mean.norm()), variance=float(block.var(0).sum()))
        if reference is not None:
            row.update(_bias(block, reference.mean[part], reference.se[part]))
            row["reference"] = reference.kind
        rows.append({**row, "snr": float(snr)})
    return pd.DataFrame(rows)


def _bias(block, reference, reference_se) -> dict:
    """``bias``, ``bias_se`` and ``mse`` of estimates ``(R, size)`` against a reference."""
    difference = block.mean(0) - reference
    se = (block.var(0) / block.shape[0] + reference_se.pow(2)).sum().sqrt()
    bias = float(difference.norm())
    return {"bias": bias, "bias_se": float(se), "mse": bias**2 + float(block.var(0).sum())}
