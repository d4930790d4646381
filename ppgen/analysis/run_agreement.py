"""Do several SVI runs agree? R-hat and ESS across runs stored as chains.

SVI finds one local optimum per run. Fitted from different seeds or initialisations and passed to
:func:`~ppgen.analysis.to_inference_data` as a list, each run's guide draws form one chain, and
the rank-normalized split R-hat of Vehtari et al. (2021), by arviz-stats, compares the runs'
approximations: near 1 when every run found the same distribution, large when they disagree (a
mixture's label switching, a factor model's sign or rotation, a poor local optimum). The same
holds for each run's log-densities per draw (``log p(x, z)`` and ``log q(z | x)`` summed over the
data), which differ between runs that found optima of different quality.

Thresholds: R-hat below 1.01 is agreement (Vehtari et al.'s recommendation for MCMC); above 1.1
the runs found clearly different approximations. Quantities that a model does not identify (a
factor model's loadings W, only defined up to rotation) disagree by construction: check the
identifiable ones instead (W Wᵀ), e.g. by adding them to the posterior group first.
"""

from __future__ import annotations

import arviz_stats
import numpy as np
import pandas as pd
import xarray as xr

#: R-hat below this: the runs agree (Vehtari et al. 2021).
RHAT_AGREE = 1.01
#: R-hat above this: the runs found clearly different approximations.
RHAT_DISAGREE = 1.1
#: ``sample_stats`` log-densities whose totals per draw are compared across runs.
LOG_DENSITIES = ("log_p", "log_q")


def run_agreement(data: xr.DataTree, var_names: list[str] | None = None) -> pd.DataFrame:
    """R-hat and ESS across the runs (chains) of ``data``, one row per scalar quantity.

    Args:
        data: from :func:`~ppgen.analysis.to_inference_data` on a list of two runs or more.
        var_names: posterior variables to check; by default the global latents
            (``attrs["global_latents"]``). The runs' total ``log_p`` and ``log_q`` per draw
            are always checked.

    Returns:
        A DataFrame indexed like :func:`arviz_stats.summary` (``W[0, 1]``, ``log_p``) with its
        diagnostics columns (``r_hat``, ``ess_bulk``, ``ess_tail``, ...) unrounded, and
        ``agreement``: ``"agree"`` (R-hat < 1.01), ``"unclear"`` or ``"disagree"`` (> 1.1).
    """
    num_runs = _num_chains(data)
    if num_runs < 2:
        raise ValueError(
            "R-hat across one run means nothing: fit the model several times (different seeds) "
            "and pass the runs as a list to to_inference_data, one chain each"
        )
    checked = agreement_quantities(data, var_names)
    table = arviz_stats.summary(
        xr.DataTree.from_dict({"posterior": checked}), kind="diagnostics", round_to="none"
    )
    table["agreement"] = np.select(
        [table["r_hat"] < RHAT_AGREE, table["r_hat"] > RHAT_DISAGREE],
        ["agree", "disagree"],
        default="unclear",
    )
    return table


def _num_chains(data: xr.DataTree) -> int:
    for group in ("posterior", "sample_stats"):
        if group in data.children:
            return data[group].sizes["chain"]
    raise ValueError("the DataTree has neither a posterior nor sample_stats group")


def agreement_quantities(data: xr.DataTree, var_names=None) -> xr.Dataset:
    """What :func:`run_agreement` checks, as a Dataset of ``(chain, draw, ...)`` arrays: the
    posterior variables (default: the global latents) and the log-densities' totals per draw."""
    posterior = data["posterior"].to_dataset() if "posterior" in data.children else xr.Dataset()
    if var_names is None:
        var_names = [name for name in data.attrs.get("global_latents", "").split(",") if name]
    unknown = [name for name in var_names if name not in posterior]
    if unknown:
        raise ValueError(
            f"no posterior variable {', '.join(map(repr, unknown))}; the posterior holds "
            f"{', '.join(map(repr, posterior.data_vars)) or 'nothing'}"
        )
    checked = {name: posterior[name] for name in var_names}
    stats = data["sample_stats"] if "sample_stats" in data.children else {}
    for name in LOG_DENSITIES:
        if name in stats:
            value = stats[name]
            checked[name] = value.sum([d for d in value.dims if d not in ("chain", "draw")])
    return xr.Dataset(checked)
