"""One fitted run's guide draws, the model replayed on them, and the ArviZ groups they fill.

``num_samples`` draws ``z_s ~ q(z | x)`` are taken in one vectorized pass (a plate over samples
left of the model's plates), or one at a time for a program that does not broadcast over them
(:mod:`ppgen.program.particles`), and the model is replayed on them; :func:`run_groups` turns the
two traces into ``xarray.Dataset`` groups with one chain (see :mod:`ppgen.analysis.inference_data`
for what each group holds). The log-densities are float64 (:mod:`.trace_arrays`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import pyro.distributions as dist
import pyro.poutine as poutine
import torch
import xarray as xr
from arviz_base import dict_to_dataset
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import prune_subsample_sites
from torch import nn
from torch.utils._pytree import tree_map

from ..program.importance import assemble, compute_log_prob
from ..program.particles import ParticleDraws
from .trace_arrays import (
    numpy_log_density,
    numpy_values,
    per_point_log_prob,
    site_array,
    summed_log_prob,
)

LOG_LIKELIHOOD_KINDS = {
    "marginal": "marginal: log p(x_n | global latents), local latents integrated out exactly",
    "conditional": "conditional: log p(x_n | z_s) at the guide's draws of every latent",
}

#: ``sample_stats`` variables, their meaning stored as each variable's ``description``.
LOG_DENSITY_DESCRIPTIONS = {
    "log_p": "log p(x, z_s): the model's joint log-density at the guide's draw z_s",
    "log_q": "log q(z_s | x): the guide's log-density of its own draw z_s",
    "log_weight": "log p(x, z_s) - log q(z_s | x): the draw's log importance weight",
    "log_p_global": "log p(x, theta_s): the local latents integrated out exactly, at the "
    "guide's draw of the global latents theta_s",
    "log_q_global": "log q(theta_s): the guide's log-density of its global latents' draw",
    "log_weight_global": "log p(x, theta_s) - log q(theta_s): the global draw's log weight",
}


class GuideDraws:
    """Guide draws and the model replayed on them, over ``num_samples`` draws (vectorized, or one
    at a time where the program does not broadcast over them)."""

    def __init__(self, model_fn, guide_fn, args, kwargs, num_samples, sample_dim):
        self.model_fn, self.args, self.kwargs = model_fn, args, kwargs
        self.num_samples, self.sample_dim = num_samples, sample_dim
        self.particles = ParticleDraws()

        def traces(_):
            guide = self.scored(guide_fn)
            return guide, self.scored(model_fn, guide)

        self.guide, self.model = self.particles.run(traces, num_samples, "to_inference_data")

    def scored(self, fn, replay_from=None, args=None, kwargs=None):
        """A scored trace of ``fn`` (replayed on ``replay_from``, a trace of these draws) without
        the plates' index sites; ``args``/``kwargs``: other arguments than the draws' own."""
        args = self.args if args is None else args
        kwargs = self.kwargs if kwargs is None else kwargs
        return self.particles.trace(
            fn, args, kwargs, self.num_samples, self.sample_dim, replay_from,
            lambda trace: prune_subsample_sites(compute_log_prob(trace)),
        )  # fmt: skip

    def run(self, fn, replay_from=None):
        """The trace of ``fn`` over the draws (replayed on ``replay_from``), unscored."""
        return self.particles.trace(
            fn, self.args, self.kwargs, self.num_samples, self.sample_dim, replay_from
        )

    def scored_float64(self, fn) -> tuple:
        """``(trace, None)``: ``fn`` replayed on float64 copies of the guide's draws and data,
        its parameters in float64 (a ppgen model's module converted for the call, ``pyro.param``
        values cast); or ``(None, reason)`` where the program does not run in float64 (a module
        of its own in float32, say). Float32 rounds a confident prediction's log-likelihood to
        exactly 0 in every draw, which PSIS cannot fit a tail to."""
        owner = getattr(fn, "__self__", None)
        module = owner if isinstance(owner, nn.Module) else None
        replay = self.particles.derived(self.guide, _float64_trace)
        args, kwargs = tree_map(_float64, self.args), tree_map(_float64, self.kwargs)
        try:
            with _float64_module(module), _Float64Params():
                return self.scored(fn, replay, args, kwargs), None
        except (RuntimeError, TypeError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"


def _float64(value):
    is_float = isinstance(value, torch.Tensor) and torch.is_floating_point(value)
    return value.double() if is_float else value


def _float64_trace(trace) -> poutine.Trace:
    """A copy of ``trace`` to replay from, with floating values in float64."""
    copy = poutine.Trace()
    for name, site in trace.nodes.items():
        if "value" in site:  # the trace's _INPUT / _RETURN nodes may hold none
            site = {**site, "value": _float64(site["value"])}
        copy.add_node(name, **site)
    return copy


@contextmanager
def _float64_module(module: nn.Module | None):
    """``module``'s floating parameters and buffers in float64 for the enclosed code, restored
    to their own dtypes after (exactly: float32 values are float64 values)."""
    if module is None:
        yield
        return
    tensors = [*module.parameters(), *module.buffers()]  # .double() keeps these objects
    dtypes = [tensor.dtype for tensor in tensors]
    module.double()
    try:
        yield
    finally:
        for tensor, dtype in zip(tensors, dtypes):
            tensor.data = tensor.data.to(dtype)


class _Float64Params(Messenger):
    """``pyro.param`` values in float64 (a plain model's parameters)."""

    def _pyro_post_param(self, msg):
        msg["value"] = _float64(msg["value"])


def run_groups(model, draws: GuideDraws, data_plate, prior, dims, coords, log_likelihood):
    """``(groups, attrs)``: one run's ArviZ groups (name -> Dataset, one chain) and the
    attributes that describe them."""
    marginal_fn, log_lik_kind = log_likelihood_program(model, log_likelihood)
    latents = _latent_sites(draws.guide, draws.model)
    observed = _observed_sites(draws.model, data_plate)
    if not observed:
        raise ValueError("the model has no observed sample site: nothing to analyse")
    derived: dict[str, list[str]] = {}
    posterior = {
        name: site_array(draws.guide.nodes[name], draws.sample_dim, data_plate, derived, name)
        for name in latents
    }
    log_lik_trace, precision = _log_likelihood_trace(draws, marginal_fn)
    log_lik, predictive = _observed_arrays(draws, log_lik_trace, observed, data_plate, derived)
    global_sites = [n for n in latents if data_plate not in _plates(draws.guide.nodes[n])]
    if marginal_fn is None and len(global_sites) == len(latents):
        # Nothing local to integrate out: the conditional log-likelihood is the marginal one.
        log_lik_kind = LOG_LIKELIHOOD_KINDS["marginal"] + " (the model has no local latents)"
    stats, stats_dims = _log_densities(draws, data_plate, per_point=not global_sites)
    if marginal_fn is not None and global_sites:
        # q(theta) alone against p(theta | x), the local latents integrated out: what PSIS
        # checks for the draws that LOO reweights.
        log_p = summed_log_prob(log_lik_trace, draws.sample_dim)
        log_q = summed_log_prob(draws.guide, draws.sample_dim, global_sites)
        stats.update(log_p_global=log_p, log_q_global=log_q, log_weight_global=log_p - log_q)
    stats = {name: numpy_log_density(value)[None] for name, value in stats.items()}
    labels = {**derived, **(dims or {})}
    groups = {
        "posterior": _dataset(posterior, labels, coords),
        "posterior_predictive": _dataset(predictive, labels, coords),
        "log_likelihood": _dataset(log_lik, {n: [data_plate] for n in observed}, coords),
        "sample_stats": _dataset(stats, stats_dims, coords),
        "observed_data": _observed_data(draws, observed, labels, coords),
    }
    for name, variable in groups["sample_stats"].data_vars.items():
        variable.attrs["description"] = LOG_DENSITY_DESCRIPTIONS[name]
    if prior:
        prior_trace = draws.run(poutine.uncondition(draws.model_fn))
        groups["prior"] = _dataset(
            {
                n: site_array(prior_trace.nodes[n], draws.sample_dim, data_plate, {}, n)
                for n in latents
            },
            labels,
            coords,
        )
    attrs = {
        "log_likelihood": log_lik_kind,
        "log_likelihood_precision": precision,
        "global_latents": ",".join(global_sites),
    }
    return {name: group for name, group in groups.items() if group is not None}, attrs


def _log_likelihood_trace(draws: GuideDraws, marginal_fn) -> tuple:
    """The scored trace the log-likelihood is read from, computed in float64 where the program
    runs in float64, and how it was computed."""
    program = draws.model_fn if marginal_fn is None else marginal_fn
    trace, reason = draws.scored_float64(program)
    if trace is not None:
        return trace, "float64"
    trace = draws.model if marginal_fn is None else draws.scored(marginal_fn, draws.guide)
    return trace, f"float32, stored as float64: the program does not run in float64 ({reason})"


def _dataset(arrays: dict, dims: dict, coords, sample_dims=None) -> xr.Dataset | None:
    if not arrays:
        return None
    names = {name: dims[name] for name in arrays if name in dims}
    try:
        return dict_to_dataset(arrays, dims=names, coords=coords, sample_dims=sample_dims)
    except ValueError as error:  # xarray's and ArviZ's shape errors, about the labels given
        shapes = {name: tuple(np.shape(value)[2:]) for name, value in arrays.items()}
        raise ValueError(
            f"dims/coords do not fit the draws: {str(error).splitlines()[0]} (sites and their "
            f"shapes per draw: {shapes}; dims given: {names}; coords given: "
            f"{ {k: len(v) for k, v in (coords or {}).items()} } values)"
        ) from error


def _observed_data(draws, observed, labels, coords) -> xr.Dataset:
    """The observed values, without sample dimensions. They carry the predictive draws' names
    where the shapes agree (a value broadcast by its plates has more dimensions than it holds)."""
    observed = [name for name in observed if not _is_factor(draws.model.nodes[name])]
    values = {name: numpy_values(draws.model.nodes[name]["value"]) for name in observed}
    dims = {n: labels[n] for n in observed if n in labels and len(labels[n]) == values[n].ndim}
    return _dataset(values, dims, coords, sample_dims=[])


def _observed_arrays(draws, log_lik_trace, observed, data_plate, derived):
    """``(log_likelihood, posterior_predictive)`` arrays of the observed sites."""
    predictive_trace = draws.run(poutine.uncondition(draws.model_fn), replay_from=draws.guide)
    log_lik, predictive = {}, {}
    for name in observed:
        if name not in log_lik_trace.nodes:
            raise ValueError(f"the marginal model does not observe the site {name!r}")
        per_point = per_point_log_prob(log_lik_trace.nodes[name], draws.sample_dim, data_plate)
        log_lik[name] = np.broadcast_to(per_point, (draws.num_samples, per_point.shape[1]))[None]
        if not _is_factor(predictive_trace.nodes[name]):  # a factor has no value to predict
            predictive[name] = site_array(
                predictive_trace.nodes[name], draws.sample_dim, data_plate, derived, name
            )
    return log_lik, predictive


def _log_densities(draws, data_plate, per_point: bool) -> tuple[dict, dict]:
    """``log_p``, ``log_q`` and ``log_weight`` per draw, and per data point when every latent is
    local (each point's posterior then has its own weights); with their dimension names."""
    if per_point:
        parts = assemble(draws.model, draws.guide, data_plate, draws.sample_dim)
        log_p, log_q = parts.log_p.double(), parts.log_q.double()  # (draw, points)
        dims = {name: [data_plate] for name in ("log_p", "log_q", "log_weight")}
    else:
        log_p = summed_log_prob(draws.model, draws.sample_dim)  # (draw,)
        log_q = summed_log_prob(draws.guide, draws.sample_dim)
        dims = {}
    return {"log_p": log_p, "log_q": log_q, "log_weight": log_p - log_q}, dims


def log_likelihood_program(model, choice) -> tuple[Callable | None, str]:
    """The program whose observed sites give the log-likelihood (``None``: the model itself),
    and the description stored in ``attrs["log_likelihood"]``."""
    marginal = getattr(model, "marginal_model", None)
    if callable(choice):
        return choice, LOG_LIKELIHOOD_KINDS["marginal"] + " (user's marginal program)"
    if choice == "auto":
        choice = "marginal" if marginal is not None else "conditional"
    if choice == "conditional":
        return None, LOG_LIKELIHOOD_KINDS["conditional"]
    if choice == "marginal":
        if marginal is None:
            raise ValueError(
                f"{type(model).__name__} has no marginal_model (its local latents do not "
                "integrate out in closed form); use log_likelihood='conditional' or pass your own "
                "marginal program"
            )
        return marginal, LOG_LIKELIHOOD_KINDS["marginal"]
    raise ValueError(
        "log_likelihood must be 'auto', 'marginal', 'conditional' or a Pyro program, "
        f"got {choice!r}"
    )


def _plates(site) -> set[str]:
    return {frame.name for frame in site["cond_indep_stack"]}


def _latent_sites(guide_trace, model_trace) -> list[str]:
    """The guide's latent sites that the model samples too: an autoguide's auxiliary sites
    (``AutoNormal``'s unconstrained draws) count in the weights but are not model variables."""
    return [
        name
        for name, site in guide_trace.nodes.items()
        if site["type"] == "sample"
        and not site["is_observed"]
        and not site["infer"].get("is_auxiliary", False)
        and name in model_trace.nodes
    ]


def _is_factor(site) -> bool:
    """A ``pyro.factor`` term (Pyro's ``Unit`` distribution: a log-density, no value)."""
    return isinstance(site["fn"], dist.Unit)


def _observed_sites(model_trace, data_plate) -> list[str]:
    """The sites the log-likelihood is read from: the observed ones, or, for a likelihood
    written as ``pyro.factor`` terms, the factors inside the data plate (a factor outside it is a
    term on the global latents, counted in ``log_p``)."""
    observed = [n for n, s in model_trace.nodes.items() if _is_observed(s)]
    data = [n for n in observed if not _is_factor(model_trace.nodes[n])]
    return data or [n for n in observed if data_plate in _plates(model_trace.nodes[n])]


def _is_observed(site) -> bool:
    return (
        site["type"] == "sample"
        and site["is_observed"]
        and not site["infer"].get("_deterministic", False)
    )
