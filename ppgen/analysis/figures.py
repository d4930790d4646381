"""The analysis figures, drawn by arviz-plots (matplotlib backend) from a ppgen ``DataTree``.

Each function returns a matplotlib ``Figure`` for the caller to save:

- :func:`posterior_figure`: global latents' marginal densities (one line per run), or, with local
  latents only, a forest plot of the first data points' latents;
- :func:`ppc_figure`: observed values against posterior-predictive draws;
- :func:`khat_figure`: the guide's PSIS k̂ per data point (or PSIS-LOO's) with the thresholds;
- :func:`agreement_figure`: rank plots of the quantities :func:`run_agreement` checks, one
  line per run (flat and overlapping when the runs agree).
"""

from __future__ import annotations

import arviz_plots as azp
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from .diagnostics import joint_log_likelihood, pointwise_loo

#: Data points whose local latents the posterior figure shows (a forest plot, one row each).
NUM_POINTS_PLOTTED = 4
#: Posterior-predictive draws overlaid on the data in the PPC figure.
NUM_PPC_DRAWS = 50
#: At most this many elements along each dimension of a local variable are drawn (the first
#: ones), so that a model with a 64-dimensional code gives a readable figure.
MAX_ELEMENTS_PLOTTED = 6


def data_dimension(data: xr.DataTree) -> str:
    """The data plate's dimension: the one the log-likelihood has besides chain and draw."""
    return next(iter(set(data["log_likelihood"].dims) - {"chain", "draw"}))


def posterior_figure(data: xr.DataTree):
    """Global latents (the smallest first, so that a scalar noise scale is always shown): their
    densities, a colour per run. Local latents only: a forest plot of the first points'."""
    posterior = data["posterior"]
    data_dim = data_dimension(data)
    global_ = [name for name in posterior.data_vars if data_dim not in posterior[name].dims]
    if global_:
        global_ = sorted(global_, key=lambda name: posterior[name].size)[:4]
        coords = _first_elements(posterior, global_, limit=2)  # W: its 2 x 2 corner
        aes = {"color": ["chain"]} if posterior.sizes["chain"] > 1 else {}
        collection = azp.plot_dist(
            data, var_names=global_, coords=coords, backend="matplotlib", aes=aes
        )
    else:
        points = posterior[data_dim].values[:NUM_POINTS_PLOTTED]
        local = list(posterior.data_vars)
        coords = {data_dim: points, **_first_elements(posterior, local, skip={data_dim})}
        collection = azp.plot_forest(
            data, var_names=local, coords=coords, combined=True, backend="matplotlib"
        )
    return collection.viz["figure"].item()


def ppc_figure(data: xr.DataTree):
    """Observed values against ``NUM_PPC_DRAWS`` posterior-predictive draws, pooled over data
    points and features (arviz-plots' ``plot_ppc_dist``)."""
    draws = min(NUM_PPC_DRAWS, data["posterior_predictive"].sizes["draw"])
    collection = azp.plot_ppc_dist(data, num_samples=draws, backend="matplotlib")
    return collection.viz["figure"].item()


def khat_figure(psis, loo_data: xr.DataTree | None):
    """The guide's k̂ per data point with the 0.5 / 0.7 / 1 thresholds. A model with global
    latents has no per-point guide weights: it shows PSIS-LOO's k̂ per data point instead (when
    ``loo_data`` is given), with the guide's joint and global k̂ in the title."""
    figure, axis = plt.subplots(figsize=(7, 3.5))
    if len(psis.pointwise):
        khat = psis.pointwise["khat"].to_numpy()
        label = "PSIS k̂ of the guide"
    elif loo_data is not None:
        khat = pointwise_loo(joint_log_likelihood(loo_data)).pareto_k.values.ravel()
        label = "PSIS-LOO k̂"
    else:
        khat = None
        axis.axis("off")
    if khat is not None:
        shown = np.where(np.isfinite(khat), khat, np.nan)  # -inf: an exact guide, nothing to draw
        axis.scatter(np.arange(len(khat)), shown, s=8, marker="+")
        for threshold, style in ((0.5, ":"), (0.7, "--"), (1.0, "-")):
            axis.axhline(threshold, color="C3", linestyle=style, linewidth=1)
        axis.set(xlabel="data point", ylabel=label)
    lines = [f"guide: joint k̂ = {psis.joint_khat:.2f}"]
    if psis.global_khat is not None:
        lines.append(f"global k̂ (local latents integrated out) = {psis.global_khat:.2f}")
    axis.set_title("; ".join(lines), fontsize=9)
    figure.tight_layout()
    return figure


def agreement_figure(checked: xr.Dataset):
    """Rank plots (arviz-plots' ``plot_rank``) of the quantities in ``checked`` (a posterior-like
    Dataset of several chains, as :func:`~ppgen.analysis.run_agreement` checks them): each run's
    ranks among all draws; runs that agree give overlapping, uniform ECDF differences."""
    names = sorted(checked.data_vars, key=lambda name: checked[name].size)[:4]
    coords = _first_elements(checked, names, limit=2)
    tree = xr.DataTree.from_dict({"posterior": checked[names]})
    collection = azp.plot_rank(tree, coords=coords, backend="matplotlib")
    return collection.viz["figure"].item()


def _first_elements(group, names, skip=frozenset(), limit=MAX_ELEMENTS_PLOTTED) -> dict:
    """Coordinates selecting the first elements of each non-sample dimension of ``names``."""
    coords = {}
    for name in names:
        for dim in group[name].dims:
            if dim in ("chain", "draw") or dim in skip:
                continue
            coords[dim] = group[dim].values[:limit]
    return coords
