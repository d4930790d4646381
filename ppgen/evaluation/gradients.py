"""Gradient-estimator statistics at fixed parameters: mean, variance, signal-to-noise, time.

``gradient_stats`` draws ``num_repeats`` independent gradient estimates of the per-datapoint loss on
the same batch and parameters, splits the parameters into the model's and the guide's (a parameter
belongs to the guide when ``log q`` depends on it), and summarizes each group:

- ``variance``: the trace of the estimates' covariance, ``sum_i Var[g_i]``;
- ``mean_norm``: the norm of the mean estimate, ``||E g||``;
- ``snr``: the mean over coordinates of ``|E g_i| / std g_i`` (Rainforth et al. 2018);
- ``seconds``: wall time per estimate.
"""

from __future__ import annotations

import time

import pandas as pd
import pyro.poutine as poutine
import torch

from ..inference.objective import resolve_objective
from ..models.base import GenerativeModel


def parameter_groups(model: GenerativeModel, x: torch.Tensor) -> dict[str, list]:
    """``{"model": [...], "guide": [...]}``; a parameter is the guide's if ``log q`` uses it."""
    params = [p for p in model.parameters() if p.requires_grad]
    trace = poutine.trace(model.guide).get_trace(x)
    log_q = trace.log_prob_sum()
    grads = torch.autograd.grad(log_q, params, allow_unused=True)
    guide = [p for p, g in zip(params, grads) if g is not None]
    guide_ids = {id(p) for p in guide}
    return {"model": [p for p in params if id(p) not in guide_ids], "guide": guide}


def gradient_stats(
    model: GenerativeModel,
    x: torch.Tensor,
    estimator="trace",
    num_repeats: int = 100,
    num_particles: int = 1,
) -> pd.DataFrame:
    """Statistics of ``num_repeats`` gradient estimates at the current parameters.

    Args:
        model: a ppgen model (its ``model``/``guide`` parameters are grouped).
        x: the batch; the loss is per data point (divided by the batch size).
        estimator: a registered name, a Pyro ELBO, or an estimator/loss callable (e.g. a trained
            ``get_estimator("tracegraph", baseline="nvil")``, whose baseline state is used).
        num_repeats: independent estimates to draw (at least 2).
        num_particles: particles for a named estimator.

    Returns:
        One row per parameter group with ``estimator``, ``group``, ``num_params``, ``mean_norm``,
        ``variance``, ``snr``, ``seconds``.
    """
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"model must be a ppgen GenerativeModel, got {type(model).__name__}")
    model.check_data(x, "x")
    if not isinstance(num_repeats, int) or num_repeats < 2:
        raise ValueError(f"num_repeats must be an int >= 2, got {num_repeats!r}")
    objective, name = resolve_objective(estimator, None, num_particles, model.max_plate_nesting)
    groups = parameter_groups(model, x)
    params = groups["model"] + groups["guide"]
    estimates = []
    start = time.perf_counter()
    for _ in range(num_repeats):
        loss = objective(model.model, model.guide, x) / len(x)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        estimates.append(torch.cat([g.flatten() for g in grads]))
    seconds = (time.perf_counter() - start) / num_repeats
    estimates = torch.stack(estimates)  # (num_repeats, total parameters)
    rows, offset = [], 0
    for group in ("model", "guide"):
        size = sum(p.numel() for p in groups[group])
        block = estimates[:, offset : offset + size]
        offset += size
        mean, std = block.mean(0), block.std(0)
        varying = std > 0
        snr = (mean[varying].abs() / std[varying]).mean() if varying.any() else torch.tensor(0.0)
        rows.append(
            {
                "estimator": name,
                "group": group,
                "num_params": size,
                "mean_norm": float(mean.norm()),
                "variance": float(block.var(0).sum()),
                "snr": float(snr),
                "seconds": seconds,
            }
        )
    return pd.DataFrame(rows)
