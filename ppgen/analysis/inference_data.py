"""``to_inference_data``: a fitted model/guide pair as an ArviZ ``InferenceData``.

ArviZ's ``from_pyro`` reads MCMC runs only. For SVI, the posterior is the guide: ``num_samples``
draws ``z_s ~ q(z | x)`` are taken in one vectorized pass (a plate over samples left of the
model's plates), the model is replayed on them, and the groups are filled from the two traces:

- ``posterior``: every latent site of the guide, with a ``chain`` of length 1 and ``draw`` for the
  samples. A site inside the data plate gets that plate's name as its observation dimension;
  event dimensions are ``<site>_dim_<k>``.
- ``log_likelihood``: per data point (summed over the site's event and inner dimensions) and
  observed site, shape ``(chain, draw, <data plate>)``; ``attrs["log_likelihood"]`` says which
  quantity it is:

  - ``"marginal"`` (the default where the model has a ``marginal_model``: PPCA, factor analysis,
    Bayesian PPCA): ``log p(x_n | theta_s)``, the local latents integrated out exactly and only the
    global latents ``theta_s`` drawn from the guide. This is the quantity LOO and WAIC are defined
    for. For a point-estimated PPCA every draw holds the same value, ``model.log_prob(x)``.
  - ``"conditional"``: ``log p(x_n | z_s)`` at the guide's draws of every latent, local ones
    included. LOO over it scores reconstructions, not the model, so ppgen's LOO refuses it.
- ``posterior_predictive``: each observed site redrawn from the model given ``z_s``.
- ``observed_data``: the data; ``prior`` (optional): latents drawn from the model alone.
- ``sample_stats["log_weight"]``: the log importance weights ``log p(x, z_s) - log q(z_s | x)``,
  per data point when every latent is local (``(chain, draw, <data plate>)``), else of the whole
  batch (``(chain, draw)``). With a marginal log-likelihood and global latents ``theta``,
  ``sample_stats["log_weight_global"]`` adds ``log p(x, theta_s) - log q(theta_s)``: the weights of
  the guide's global draws with the local latents integrated out.

Parameters fitted by SVI are point estimates and appear nowhere in the posterior: only sample
sites do (``attrs["point_estimates"]`` says so).

Inside a ``torch.distributed`` group the call is collective: when every latent is local, each rank
analyses its share of the points (its own draws) and every rank gets the whole InferenceData,
joined along the data plate in order; with global latents every rank analyses all points.
"""

from __future__ import annotations

from collections.abc import Callable

import arviz as az
import numpy as np
import pyro.poutine as poutine
import torch
import xarray as xr
from pyro.poutine.util import prune_subsample_sites

from ..inference.batches import DataSpec
from ..inference.distributed.ranks import current_ranks
from ..inference.distributed.sync import gather_objects
from ..inference.importance import SAMPLE_PLATE, assemble, scored_trace, vectorize
from ..inference.param_scope import pair_params
from ..inference.program import ProgramError, inspect_program, run_vectorized
from ..models.base import split_pair
from ..validation import check_flag, check_positive_int

SAMPLE_DIM_NAME = "draw"


@torch.no_grad()
def to_inference_data(
    model,
    x,
    num_samples: int = 500,
    *,
    prior: bool = False,
    dims: dict | None = None,
    coords: dict | None = None,
    log_likelihood: str | Callable = "auto",
    **kwargs,
) -> az.InferenceData:
    """An ``InferenceData`` for a model/guide pair on data ``x`` (see the module docstring).

    Args:
        model: a :class:`~ppgen.models.GenerativeModel` or a ``(model, guide)`` pair of Pyro
            callables, with the observations in a plate over data points (any name; found from
            the program's trace).
        x: the data the programs take: a tensor of any shape (rows on dim 0), a tuple or dict
            of tensors, or ``None`` for a program without data.
        num_samples: guide draws (ArviZ's ``draw`` dimension; one chain).
        prior: also draw ``num_samples`` latents from the model's prior (the ``prior`` group).
        dims, coords: ArviZ's, overriding the names ppgen derives from the plates.
        log_likelihood: ``"marginal"``, ``"conditional"`` (see the module docstring), ``"auto"``
            (marginal where the model has a ``marginal_model``), or a Pyro program: a plain
            model's own marginal, called like the model and replayed on the guide's draws.
        kwargs: passed to model and guide (e.g. ``y=`` labels).
    """
    spec = DataSpec.for_call(model, x, kwargs)
    check_positive_int(num_samples, "num_samples", allow_none=False)
    check_flag(prior, "prior")
    _check_labels(dims, coords)
    args, call_kwargs = spec.call()
    model_fn, guide_fn, declared_plate, nesting = split_pair(model)
    with pair_params(model_fn, guide_fn):
        info = inspect_program(
            model_fn, guide_fn, args, call_kwargs, data_plate=declared_plate,
            num_rows=spec.num_rows,
        )  # fmt: skip
        _check_analysable(info)
        nesting = info.nesting if nesting is None else nesting
        share = _share(spec, info, coords)
        if share is not None:  # this rank's points (module docstring)
            args, call_kwargs = spec.call(share)
        draws = _Draws(model_fn, guide_fn, args, call_kwargs, num_samples, -nesting - 1)
        data = _assemble(model, draws, info.data_plate, prior, dims, coords, log_likelihood)
    if share is None:
        return data
    return _joined(gather_objects(current_ranks(), data), info.data_plate)


def _share(spec, info, coords) -> torch.Tensor | None:
    """Inside a process group, the rows this rank analyses; ``None`` for all of them: no group,
    global latents (every rank would need the same draws of them, and their weights sum over
    all points), fewer rows than ranks, or coordinates given for the data plate."""
    ranks = current_ranks()
    rows = spec.num_rows
    if not ranks.active or rows is None or rows < ranks.world_size or info.global_latents:
        return None
    if coords is not None and info.data_plate in coords:
        return None
    offset, length = ranks.part(rows)
    return torch.arange(offset, offset + length, device=spec.first.device)


def _joined(parts: list, plate: str) -> az.InferenceData:
    """The ranks' InferenceData, over consecutive rows, joined along the data plate in order."""
    joined = parts[0]
    for group in joined.groups():
        datasets = [getattr(part, group) for part in parts]
        merged = xr.concat(
            datasets, dim=plate, data_vars="minimal", coords="minimal", compat="override"
        )
        size = merged.sizes[plate]
        setattr(joined, group, merged.assign_coords({plate: np.arange(size)}))
    return joined


def _check_labels(dims, coords) -> None:
    """ArviZ's ``dims`` (site -> list of dimension names) and ``coords`` (dimension -> values),
    checked here so that a mistake is named rather than failing inside xarray."""
    if dims is not None:
        if not isinstance(dims, dict):
            raise TypeError(f"dims must be a dict of site -> list of dimension names, got {dims!r}")
        for site, names in dims.items():
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                raise TypeError(f"dims[{site!r}] must be a list of dimension names, got {names!r}")
    if coords is not None:
        if not isinstance(coords, dict) or not all(isinstance(k, str) for k in coords):
            raise TypeError(f"coords must be a dict of dimension name -> values, got {coords!r}")
        for name, values in coords.items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                raise TypeError(f"coords[{name!r}] must be a sequence of values, got {values!r}")


def _check_analysable(info) -> None:
    if info.data_plate is None:
        raise ProgramError(
            "to_inference_data needs a vectorized plate over the data points that the observed "
            f"sites ({', '.join(info.observed)}) share; the program's plates: "
            f"{info.describe_plates()}"
        )
    if info.subsamples:
        raise ProgramError(
            f"the program subsamples its data plate {info.data_plate!r} ({info.num_points} of "
            f"{info.full_size} rows per call): pointwise log-likelihoods need every row; "
            "analyse it with subsampling off (e.g. subsample_size=None through a model argument)"
        )


class _Draws:
    """Guide draws and the model replayed on them, vectorized over ``num_samples``."""

    def __init__(self, model_fn, guide_fn, args, kwargs, num_samples, sample_dim):
        self.model_fn, self.args, self.kwargs = model_fn, args, kwargs
        self.num_samples, self.sample_dim = num_samples, sample_dim
        self.guide = run_vectorized(lambda: self.scored(guide_fn), num_samples)
        self.model = run_vectorized(lambda: self.scored(model_fn, self.guide), num_samples)

    def vectorized(self, fn):
        return vectorize(fn, self.num_samples, self.sample_dim)

    def scored(self, fn, replay_from=None):
        """A scored trace of ``fn`` without the plates' index sites."""
        trace = scored_trace(self.vectorized(fn), self.args, self.kwargs, replay_from)
        return prune_subsample_sites(trace)

    def run(self, fn):
        return poutine.trace(self.vectorized(fn)).get_trace(*self.args, **self.kwargs)


def _assemble(model, draws, data_plate, prior, dims, coords, log_likelihood):
    marginal_fn, log_lik_kind = _log_likelihood_program(model, log_likelihood)
    latents = _latent_sites(draws.guide, draws.model)
    observed = [n for n, s in draws.model.nodes.items() if _is_observed(s)]
    if not observed:
        raise ValueError("the model has no observed sample site: nothing to analyse")
    derived_dims: dict[str, list[str]] = {}
    posterior = {
        name: _site_array(draws.guide.nodes[name], draws.sample_dim, data_plate, derived_dims, name)
        for name in latents
    }
    log_lik_trace = draws.model if marginal_fn is None else draws.scored(marginal_fn, draws.guide)
    log_lik, predictive = _observed_groups(draws, log_lik_trace, observed, data_plate, derived_dims)
    local = {
        n
        for n in latents
        if data_plate in {f.name for f in draws.guide.nodes[n]["cond_indep_stack"]}
    }
    global_sites = [n for n in latents if n not in local]
    if marginal_fn is None and not local:
        # Nothing local to integrate out: the conditional log-likelihood is the marginal one.
        log_lik_kind = LOG_LIKELIHOOD_KINDS["marginal"] + " (the model has no local latents)"
    sample_stats, stats_dims = _weights(draws, data_plate, not global_sites)
    if marginal_fn is not None and global_sites:
        # The weights of q(theta) alone against p(theta | x), the local latents integrated out:
        # log p(x, theta_s) - log q(theta_s), what PSIS checks for the draws LOO reweights.
        log_w_global = _summed_log_prob(log_lik_trace, draws.sample_dim) - _summed_log_prob(
            draws.guide, draws.sample_dim, global_sites
        )
        sample_stats["log_weight_global"] = _numpy(log_w_global)[None]
    prior_group = None
    if prior:
        prior_trace = draws.run(poutine.uncondition(draws.model_fn))
        prior_group = {
            name: _site_array(prior_trace.nodes[name], draws.sample_dim, data_plate, {}, name)
            for name in latents
        }
    data = az.from_dict(
        posterior=posterior or None,
        posterior_predictive=predictive,
        log_likelihood=log_lik,
        observed_data={name: _numpy(draws.model.nodes[name]["value"]) for name in observed},
        sample_stats=sample_stats,
        prior=prior_group,
        dims={**derived_dims, **(dims or {})},
        coords=coords,
        attrs={
            "inference": "SVI: posterior draws from the guide, one chain",
            "point_estimates": "parameters fitted by SVI are point estimates, not in posterior",
            "log_likelihood": log_lik_kind,
            "global_latents": ",".join(global_sites),
        },
    )
    # from_dict applies one dims mapping to every group: fix the log-likelihood's and weights'.
    # The log-likelihood arrays carry only the data dimension, unlike the predictive draws.
    log_lik_dims = {name: [data_plate] for name in observed}
    data.log_likelihood = az.from_dict(
        log_likelihood=log_lik, dims=log_lik_dims, coords=coords
    ).log_likelihood
    data.sample_stats = az.from_dict(
        sample_stats=sample_stats, dims=stats_dims, coords=coords
    ).sample_stats
    return data


def _observed_groups(draws, log_lik_trace, observed, data_plate, derived_dims):
    """``(log_likelihood, posterior_predictive)`` arrays of the observed sites."""
    replayed = poutine.replay(poutine.uncondition(draws.model_fn), trace=draws.guide)
    predictive_trace = draws.run(replayed)
    log_lik, predictive = {}, {}
    for name in observed:
        if name not in log_lik_trace.nodes:
            raise ValueError(f"the marginal model does not observe the site {name!r}")
        per_point = _per_point(log_lik_trace.nodes[name], draws.sample_dim, data_plate)
        per_point = np.broadcast_to(per_point, (draws.num_samples, per_point.shape[-1]))
        log_lik[name] = per_point[None]
        predictive[name] = _site_array(
            predictive_trace.nodes[name], draws.sample_dim, data_plate, derived_dims, name
        )
    return log_lik, predictive


def _weights(draws, data_plate, per_point: bool):
    """``sample_stats["log_weight"]`` and its dims: per data point when every latent is local."""
    log_w = _log_weight(draws.model, draws.guide, draws.sample_dim, data_plate, per_point)
    return {"log_weight": log_w[None]}, ({"log_weight": [data_plate]} if per_point else {})


LOG_LIKELIHOOD_KINDS = {
    "marginal": "marginal: log p(x_n | global latents), local latents integrated out exactly",
    "conditional": "conditional: log p(x_n | z_s) at the guide's draws of every latent",
}


def _log_likelihood_program(model, choice) -> tuple[Callable | None, str]:
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


def _is_observed(site) -> bool:
    return (
        site["type"] == "sample"
        and site["is_observed"]
        and not site["infer"].get("_deterministic", False)
    )


def _numpy(value: torch.Tensor) -> np.ndarray:
    return value.detach().cpu().numpy()


def _site_array(site, sample_dim, data_plate, dims, name) -> np.ndarray:
    """A site's value as ``(chain=1, draw, <plates>, <event>)``, the data plate first among the
    plates and broadcast (size-1) plate dimensions dropped; registers the dimension names."""
    value, event_dim = site["value"], site["fn"].event_dim
    batch_ndim = -sample_dim  # the sample axis and the model's plates
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
    return _numpy(value)[None]


def _per_point(site, sample_dim, data_plate) -> np.ndarray:
    """``log_prob`` of a site summed to ``(draw, num_points)`` (or ``(1, num_points)`` when it
    does not depend on the draw), without the plate's subsampling scale."""
    log_prob = site["unscaled_log_prob"]
    log_prob = log_prob.reshape((1,) * (-sample_dim - log_prob.dim()) + log_prob.shape)
    frames = {f.name: f for f in site["cond_indep_stack"] if f.vectorized}
    if data_plate not in frames:
        raise ValueError(f"observed site {site['name']!r} is outside the plate {data_plate!r}")
    log_prob = log_prob.movedim(sample_dim, 0).movedim(frames[data_plate].dim, -1)
    # The plate's size here (its subsample size; what its sites broadcast to if it has none).
    points = max(frames[data_plate].size, log_prob.shape[-1])
    log_prob = log_prob.expand(*log_prob.shape[:-1], points)
    return _numpy(log_prob.reshape(log_prob.shape[0], -1, points).sum(1))


def _log_weight(model_trace, guide_trace, sample_dim, data_plate, per_point):
    """``log p(x, z) - log q(z | x)`` per draw (and per data point when every latent is local)."""
    if per_point:
        return _numpy(assemble(model_trace, guide_trace, data_plate, sample_dim).log_w)
    return _numpy(
        _summed_log_prob(model_trace, sample_dim) - _summed_log_prob(guide_trace, sample_dim)
    )


def _summed_log_prob(trace, sample_dim, sites=None) -> torch.Tensor:
    """The unscaled log-density of a trace's sample sites (all, or ``sites``), per draw."""
    total = torch.zeros(())
    for name, site in trace.nodes.items():
        if site["type"] == "sample" and (sites is None or name in sites):
            log_prob = site["unscaled_log_prob"]
            log_prob = log_prob.reshape((1,) * (-sample_dim - log_prob.dim()) + log_prob.shape)
            total = total + log_prob.reshape(log_prob.shape[0], -1).sum(1)
    return total
