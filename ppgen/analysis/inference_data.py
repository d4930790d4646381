"""``to_inference_data``: fitted model/guide pairs as an ArviZ ``DataTree`` (ArviZ 1.x).

ArviZ reads MCMC runs; for SVI the posterior is the guide. Each fitted run contributes
``num_samples`` guide draws (:mod:`ppgen.analysis.guide_draws`) as one **chain**: pass a list of
runs of the same model (different seeds or initialisations) and R-hat and ESS across the chains
show whether the runs found the same posterior approximation
(:func:`~ppgen.analysis.run_agreement`).
The groups:

- ``posterior``: every latent site of the guide, dims ``(chain, draw, ...)``. A site inside the
  data plate gets that plate's name as its observation dimension; event dimensions are
  ``<site>_dim_<k>``.
- ``log_likelihood``: per data point (summed over the site's event and inner dimensions) and
  observed site, ``(chain, draw, <data plate>)``, float64. The root's ``attrs["log_likelihood"]``
  says which quantity it is:

  - ``"marginal"`` (the default where the model has a ``marginal_model``: PPCA, factor analysis,
    Bayesian PPCA): ``log p(x_n | theta_s)``, the local latents integrated out exactly and only the
    global latents ``theta_s`` drawn from the guide. This is the quantity LOO is defined for. For
    a point-estimated PPCA every draw holds the same value, ``model.log_prob(x)``.
  - ``"conditional"``: ``log p(x_n | z_s)`` at the guide's draws of every latent, local ones
    included. LOO over it scores reconstructions, not the model, so ppgen's LOO refuses it.
- ``posterior_predictive``: each observed site redrawn from the model given ``z_s``.
- ``observed_data``: the data; ``prior`` (optional): latents drawn from the model alone.
- ``sample_stats``: the log-densities of every draw, float64, so that weights and diagnostics can
  be recomputed (each variable's ``attrs["description"]`` says what it is):

  - ``log_p`` = ``log p(x, z_s)``, ``log_q`` = ``log q(z_s | x)`` and ``log_weight`` = their
    difference, per data point when every latent is local (``(chain, draw, <data plate>)``),
    else of the whole data set (``(chain, draw)``);
  - with a marginal log-likelihood and global latents ``theta``: ``log_p_global`` =
    ``log p(x, theta_s)`` (local latents integrated out), ``log_q_global`` = ``log q(theta_s)``
    and ``log_weight_global``. These are the ``log_p`` and ``log_q`` that ArviZ's
    ``loo_approximate_posterior`` takes.

Parameters fitted by SVI are point estimates and appear nowhere in the posterior: only sample
sites do (``attrs["point_estimates"]`` says so).

Inside a ``torch.distributed`` group the call is collective: when every latent is local, each rank
analyses its share of the points (its own draws) and every rank gets the whole DataTree, joined
along the data plate in order; with global latents every rank analyses all points.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import xarray as xr

from ..program.errors import ProgramError
from ..program.program import Program
from ..training.distributed.ranks import current_ranks
from ..training.distributed.sync import gather_objects
from ..validation import check_flag, check_positive_int
from .guide_draws import GuideDraws, run_groups

#: The group that holds the data; the same for every run, so it is not stacked into chains.
OBSERVED_GROUP = "observed_data"


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
) -> xr.DataTree:
    """A ``DataTree`` of fitted model/guide pairs on data ``x`` (see the module docstring).

    Args:
        model: a :class:`~ppgen.models.GenerativeModel` or a ``(model, guide)`` pair of Pyro
            callables, with the observations in a plate over data points (any name; found from
            the program's trace); or a **list** of them, several fitted runs of one model, each
            stored as a chain.
        x: the data the programs take: a tensor of any shape (rows on dim 0), a tuple or dict
            of tensors, or ``None`` for a program without data.
        num_samples: guide draws per run (ArviZ's ``draw`` dimension).
        prior: also draw ``num_samples`` latents from the model's prior (the ``prior`` group).
        dims, coords: ArviZ's, overriding the names ppgen derives from the plates.
        log_likelihood: ``"marginal"``, ``"conditional"`` (see the module docstring), ``"auto"``
            (marginal where the model has a ``marginal_model``), or a Pyro program: a plain
            model's own marginal, called like the model and replayed on the guide's draws.
        kwargs: passed to model and guide (e.g. ``y=`` labels).
    """
    runs = _runs(model)
    spec = Program.of(runs[0]).data(x, kwargs)
    check_positive_int(num_samples, "num_samples", allow_none=False)
    check_flag(prior, "prior")
    _check_labels(dims, coords)
    options = (num_samples, prior, dims, coords, log_likelihood)
    chains = [_one_run(run, spec, *options) for run in runs]
    return _as_datatree(chains, len(runs))


def _runs(model) -> list:
    """The runs to analyse: a list of several, or one model or pair."""
    if not isinstance(model, list):
        return [model]
    if not model:
        raise ValueError("to_inference_data got an empty list of runs")
    for index, run in enumerate(model):
        try:
            Program.of(run)
        except TypeError as error:
            raise TypeError(f"run {index} of the list: {error}") from None
    return model


def _one_run(run, spec, num_samples, prior, dims, coords, log_likelihood) -> tuple[dict, dict]:
    """One run's groups (one chain) and attributes; collective inside a process group."""
    args, call_kwargs = spec.call()
    program = Program.of(run)
    with program.scope():
        info = program.inspect(args, call_kwargs, num_rows=spec.num_rows)
        _check_analysable(info)
        nesting = program.nesting(info)
        share = _share(spec, info, coords)
        if share is not None:  # this rank's points (module docstring)
            args, call_kwargs = spec.call(share)
        draws = GuideDraws(*program.pair, args, call_kwargs, num_samples, -nesting - 1)
        groups, attrs = run_groups(run, draws, info.data_plate, prior, dims, coords, log_likelihood)
        _check_labels_used(groups, dims, coords)
    if share is not None:
        groups = _joined(gather_objects(current_ranks(), groups), info.data_plate)
    return groups, attrs


def _as_datatree(chains: list[tuple[dict, dict]], num_runs: int) -> xr.DataTree:
    """The runs' groups stacked along ``chain`` under one root with the attributes."""
    first_groups, first_attrs = chains[0]
    for index, (groups, attrs) in enumerate(chains[1:], start=1):
        _check_same_run_layout(first_groups, first_attrs, groups, attrs, index)
    tree = {"/": xr.Dataset(attrs=_root_attrs(first_attrs, num_runs))}
    for name, group in first_groups.items():
        if name == OBSERVED_GROUP:
            tree[name] = group
            continue
        stacked = xr.concat([groups[name] for groups, _ in chains], dim="chain")
        tree[name] = stacked.assign_coords(chain=np.arange(num_runs))
    return xr.DataTree.from_dict(tree)


def _root_attrs(attrs: dict, num_runs: int) -> dict:
    chains = "one chain" if num_runs == 1 else f"one chain per run ({num_runs} runs)"
    return {
        "inference": f"SVI: posterior draws from the guide, {chains}",
        "num_runs": num_runs,
        "point_estimates": "parameters fitted by SVI are point estimates, not in posterior",
        **attrs,
    }


def _check_same_run_layout(first_groups, first_attrs, groups, attrs, index) -> None:
    """Runs stacked as chains must be the same model on the same data: same groups, sites,
    shapes, log-likelihood kind, and observed values."""
    where = f"run {index} differs from run 0"
    if attrs != first_attrs:
        raise ValueError(f"{where}: {attrs} against {first_attrs}")
    if set(groups) != set(first_groups):
        raise ValueError(f"{where}: groups {sorted(groups)} against {sorted(first_groups)}")
    for name, group in groups.items():
        first = first_groups[name]
        if set(group.data_vars) != set(first.data_vars):
            raise ValueError(
                f"{where}: {name} sites {sorted(group.data_vars)} against {sorted(first.data_vars)}"
            )
        for site, variable in group.data_vars.items():
            if variable.sizes != first[site].sizes:
                raise ValueError(
                    f"{where}: {name}.{site} has sizes {dict(variable.sizes)} against "
                    f"{dict(first[site].sizes)}"
                )
    if not groups[OBSERVED_GROUP].equals(first_groups[OBSERVED_GROUP]):
        raise ValueError(f"{where}: the runs saw different observed data")


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


def _joined(parts: list[dict], plate: str) -> dict:
    """The ranks' groups, over consecutive rows, joined along the data plate in order."""
    joined = {}
    for name in parts[0]:
        merged = xr.concat(
            [part[name] for part in parts],
            dim=plate,
            data_vars="minimal",
            coords="minimal",
            compat="override",
        )
        joined[name] = merged.assign_coords({plate: np.arange(merged.sizes[plate])})
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


def _check_labels_used(groups: dict, dims, coords) -> None:
    """``dims`` must name sites of the program and ``coords`` dimensions of the draws: a name
    that matches nothing is a typo, refused rather than ignored."""
    sites = {name for group in groups.values() for name in group.data_vars}
    unknown = sorted(set(dims or {}) - sites)
    if unknown:
        raise ValueError(f"dims names site(s) {unknown} that the program has not; its sites: "
                         f"{sorted(sites)}")  # fmt: skip
    dimensions = {d for group in groups.values() for d in group.dims} - {"chain", "draw"}
    unknown = sorted(set(coords or {}) - dimensions)
    if unknown:
        raise ValueError(f"coords names dimension(s) {unknown} that no site has; the draws' "
                         f"dimensions: {sorted(dimensions)}")  # fmt: skip


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
