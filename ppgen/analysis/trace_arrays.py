"""Pyro traces as NumPy arrays in ArviZ's layout: ``(chain=1, draw, <plates>, <event>)``.

The traces come from one vectorized pass over ``num_samples`` guide draws: a plate over samples
at ``sample_dim`` (left of the model's plates). These helpers read a site's value or its
log-density off such a trace, name its dimensions, and return float64 for log-densities: ArviZ's
Pareto smoothing exponentiates differences of log weights, and float32 loses them (a Bayesian
logistic regression's LOO came out NaN from float32 values and -54.41 from a float64 copy).
"""

from __future__ import annotations

import numpy as np
import torch

from ..program.errors import ProgramError
from ..program.sites import SAMPLE_PLATE


def numpy_values(value: torch.Tensor) -> np.ndarray:
    """A tensor's values on the host, in its own dtype."""
    return value.detach().cpu().numpy()


def numpy_log_density(value: torch.Tensor) -> np.ndarray:
    """A log-density on the host as float64 (module docstring)."""
    return value.detach().cpu().double().numpy()


def site_array(site, sample_dim: int, data_plate: str, dims: dict, name: str) -> np.ndarray:
    """A site's value as ``(chain=1, draw, <plates>, <event>)``, the data plate first among the
    plates and broadcast (size-1) plate dimensions dropped; registers the dimension names in
    ``dims`` (event dimensions are ``<site>_dim_<k>``)."""
    value, event_dim = site["value"], site["fn"].event_dim
    batch_ndim = -sample_dim  # the sample axis and the model's plates
    if value.dim() > batch_ndim + event_dim:
        raise ProgramError(
            f"site {name!r} has shape {tuple(value.shape)} under {batch_ndim - 1} plate "
            f"dimension(s) and a sample dimension: {value.dim() - batch_ndim - event_dim} batch "
            "dimension(s) more than its plates declare. Its distribution's batch shape "
            f"{tuple(site['fn'].batch_shape)} grows with the draws of another site: broadcast "
            "parameters against the right (plate) dimensions, or declare the extra dimension as "
            "a plate or with .to_event()"
        )
    value = value.reshape((1,) * (batch_ndim + event_dim - value.dim()) + value.shape)
    frames = {f.dim: f.name for f in site["cond_indep_stack"] if f.name != SAMPLE_PLATE}
    plates = sorted(
        (
            (frames[axis - batch_ndim], axis)
            for axis in range(1, batch_ndim)
            if axis - batch_ndim in frames
        ),
        key=lambda plate: plate[0] != data_plate,
    )
    kept = [0] + [axis for _, axis in plates]
    dropped = [axis for axis in range(1, batch_ndim) if axis not in kept]
    events = list(range(batch_ndim, batch_ndim + event_dim))
    value = value.permute(*kept, *dropped, *events)
    value = value.reshape(*value.shape[: len(kept)], *value.shape[len(kept) + len(dropped) :])
    names = [plate for plate, _ in plates] + [f"{name}_dim_{k}" for k in range(event_dim)]
    if names:
        dims[name] = names
    return numpy_values(value)[None]


def per_point_log_prob(site, sample_dim: int, data_plate: str) -> np.ndarray:
    """``log_prob`` of a site summed to ``(draw, num_points)`` (or ``(1, num_points)`` when it
    does not depend on the draw), without the plate's subsampling scale; float64."""
    log_prob = site["unscaled_log_prob"]
    log_prob = log_prob.reshape((1,) * (-sample_dim - log_prob.dim()) + log_prob.shape)
    frames = {f.name: f for f in site["cond_indep_stack"] if f.vectorized}
    if data_plate not in frames:
        raise ValueError(f"observed site {site['name']!r} is outside the plate {data_plate!r}")
    log_prob = log_prob.movedim(sample_dim, 0).movedim(frames[data_plate].dim, -1)
    # The plate's size here (its subsample size; what its sites broadcast to if it has none).
    points = max(frames[data_plate].size, log_prob.shape[-1])
    log_prob = log_prob.expand(*log_prob.shape[:-1], points)
    return numpy_log_density(log_prob.reshape(log_prob.shape[0], -1, points).sum(1))


def summed_log_prob(trace, sample_dim: int, sites=None) -> torch.Tensor:
    """The unscaled log-density of a trace's sample sites (all, or ``sites``), per draw:
    ``(draw,)``, accumulated in float64."""
    total = torch.zeros((), dtype=torch.float64)
    for name, site in trace.nodes.items():
        if site["type"] == "sample" and (sites is None or name in sites):
            log_prob = site["unscaled_log_prob"]
            log_prob = log_prob.reshape((1,) * (-sample_dim - log_prob.dim()) + log_prob.shape)
            total = total + log_prob.reshape(log_prob.shape[0], -1).double().sum(1).cpu()
    return total
