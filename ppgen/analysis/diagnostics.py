"""Is the guide good enough, and which model predicts best? PSIS k̂ of the guide, and PSIS-LOO.

**PSIS k̂ of the guide** (Yao, Vehtari, Simpson & Gelman 2018, "Yes, but did it work?"): the
guide's draws ``z_s ~ q`` with log weights ``log p(x, z_s) - log q(z_s | x)`` are an importance
sample for the posterior. arviz-stats' ``psislw`` fits a generalized Pareto distribution to the
largest weights; its shape ``k̂`` estimates how heavy the weights' tail is, i.e. how far q is
from the posterior in the direction that matters for expectations:

- ``k̂ < 0.5`` (*good*): the weights have finite variance; importance sampling with q converges
  fast and q is a good approximation.
- ``0.5 <= k̂ < 0.7`` (*ok*): finite mean, infinite variance; PSIS still gives usable estimates.
- ``0.7 <= k̂ < 1`` (*bad*): estimates are unreliable in practice; q misses posterior mass.
- ``k̂ >= 1`` (*very bad*): the weights have no finite mean.

ppgen reports ``k̂`` per data point when every latent is local (each data point's posterior
``p(z_n | x_n)`` has its own weights), always for the joint weights of the whole batch, and, for a
model with global latents ``theta`` and a marginal log-likelihood, for ``q(theta)`` against
``p(theta | x)`` with the local latents integrated out (the draws that LOO reweights).
Weights that do not vary (spread below ``CONSTANT_WEIGHTS_SPREAD`` nats, i.e. rounding error)
mean the guide *is* the posterior; ArviZ's tail fit fails there (it returns ``inf``, or fits the
rounding noise), so ppgen reports ``-inf``, the best possible value.

**PSIS-LOO** (Vehtari, Gelman & Gabry 2017) through arviz-stats, on the pointwise log-likelihood of
:func:`~ppgen.analysis.to_inference_data`, twice: ``loo`` treats the guide's draws as posterior
draws; ``loo_approximate_posterior`` (Magnusson et al. 2019, ArviZ's method for variational
posteriors) corrects them by the stored ``log p`` and ``log q`` of each draw. WAIC is gone: ArviZ
1.x dropped it in favour of PSIS-LOO, whose k̂ says when it fails. LOO estimates out-of-sample
predictive accuracy from posterior draws of the parameters, so it needs (a) the *marginal*
log-likelihood (local latents integrated out: LOO over ``log p(x_n | z_n)`` at the guide's own
``z_n`` scores reconstructions, not the model) and (b) global latents with a posterior (for
point-estimated parameters every draw is the same and there is nothing to leave out: compare
held-out log-likelihoods instead).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import arviz_stats
import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.base import array_stats

#: Upper edges of the k̂ bands (Yao et al. 2018; Vehtari et al. 2024 for the 0.7 cut-off).
KHAT_GOOD, KHAT_OK, KHAT_BAD = 0.5, 0.7, 1.0
#: The fewest draws arviz-stats fits a Pareto tail to: its tail is min(0.2 S, 3 sqrt(S)) of S
#: draws and needs 5 of them.
MIN_PSIS_DRAWS = 25
#: Log weights spread less than this (in nats) are constant up to rounding: the weights
#: ``exp(log w)`` then differ by a factor of at most ``1 + 1e-6``.
CONSTANT_WEIGHTS_SPREAD = 1e-6


def khat_band(khat: float) -> str:
    """``"good"``, ``"ok"``, ``"bad"`` or ``"very bad"`` (see the module docstring)."""
    if khat < KHAT_GOOD:
        return "good"
    if khat < KHAT_OK:
        return "ok"
    return "bad" if khat < KHAT_BAD else "very bad"


@dataclass
class GuideDiagnostics:
    """PSIS diagnostics of a guide: ``pointwise`` (one row per data point: ``khat``, ``band``;
    empty when the model has global latents), ``joint_khat`` (the weights of the whole batch),
    ``global_khat`` (of ``q(theta)`` with local latents integrated out, or ``None``) and the number
    of draws they come from."""

    pointwise: pd.DataFrame
    joint_khat: float
    num_samples: int
    global_khat: float | None = None

    @property
    def max_khat(self) -> float:
        """The worst data point's k̂ (the joint k̂ when there are no per-point weights)."""
        return float(self.pointwise["khat"].max()) if len(self.pointwise) else self.joint_khat

    def summary(self) -> pd.Series:
        """One line: joint and worst k̂, the mean, and the fraction of data points per band."""
        row = {"num_samples": self.num_samples, "joint_khat": self.joint_khat}
        row["joint_band"] = khat_band(self.joint_khat)
        if self.global_khat is not None:
            row.update(global_khat=self.global_khat, global_band=khat_band(self.global_khat))
        if len(self.pointwise):
            khat = self.pointwise["khat"]
            row.update(max_khat=float(khat.max()), mean_khat=float(khat[np.isfinite(khat)].mean()))
            bands = self.pointwise["band"].value_counts(normalize=True)
            for band in ("good", "ok", "bad", "very bad"):
                row[f"fraction_{band.replace(' ', '_')}"] = float(bands.get(band, 0.0))
        return pd.Series(row)


def psis_diagnostics(data: xr.DataTree) -> GuideDiagnostics:
    """PSIS k̂ of the guide from ``sample_stats.log_weight`` of
    :func:`~ppgen.analysis.to_inference_data` (see the module docstring)."""
    if "sample_stats" not in data.children or "log_weight" not in data["sample_stats"]:
        raise ValueError(
            "the DataTree has no sample_stats.log_weight; make it with "
            "ppgen.analysis.to_inference_data"
        )
    log_weight = data["sample_stats"]["log_weight"]
    extra = [d for d in log_weight.dims if d not in ("chain", "draw")]
    draws = log_weight.stack(sample=("chain", "draw")).transpose(*extra, "sample").values
    draws = draws.astype(np.float64)  # (points, samples), or (samples,) when joint only
    pointwise = pd.DataFrame(columns=["khat", "band"])
    if extra:
        khat = _khat(draws)
        pointwise = pd.DataFrame(
            {"khat": khat, "band": [khat_band(k) for k in khat]},
            index=pd.Index(log_weight[extra[0]].values, name=extra[0]),
        )
        draws = draws.sum(0)
    global_khat = None
    if "log_weight_global" in data["sample_stats"]:
        global_draws = data["sample_stats"]["log_weight_global"].values.reshape(1, -1)
        global_khat = float(_khat(global_draws.astype(np.float64))[0])
    return GuideDiagnostics(
        pointwise, float(_khat(draws[None])[0]), draws.shape[-1], global_khat=global_khat
    )


def _khat(log_weights: np.ndarray) -> np.ndarray:
    """k̂ per row of ``(rows, samples)`` log weights; ``-inf`` for rows that do not vary."""
    if log_weights.shape[-1] < MIN_PSIS_DRAWS:
        raise ValueError(
            f"PSIS k̂ needs at least {MIN_PSIS_DRAWS} draws (a Pareto tail of 5), got "
            f"{log_weights.shape[-1]}; draw more with num_samples"
        )
    khat = np.full(len(log_weights), -np.inf)
    varies = np.ptp(log_weights, axis=1) > CONSTANT_WEIGHTS_SPREAD
    if varies.any():
        # arviz-stats' psislw takes LOO's log-likelihoods and smooths their negation (the
        # leave-one-out log ratios): hand it the negated log weights.
        _, khat[varies] = array_stats.psislw(-log_weights[varies], r_eff=1, axis=-1)
    return khat


def check_loo_ready(data: xr.DataTree, name: str = "the model") -> None:
    """Raise a clear error unless LOO means something for ``data`` (module docstring), and
    unless every stored pointwise log-likelihood is a number."""
    kind = data.attrs.get("log_likelihood", "")
    if kind.startswith("conditional"):
        raise ValueError(
            f"{name}: the stored log-likelihood is conditional on the guide's local latents "
            "(log p(x_n | z_n)); LOO over it scores reconstructions, not the model. Use a model "
            "with a marginal_model (PPCA, FA, BayesianPPCA) or pass your own marginal program to "
            "to_inference_data(log_likelihood=...)"
        )
    if "global_latents" in data.attrs and not data.attrs["global_latents"]:
        raise ValueError(
            f"{name} has no global latents: its parameters are point estimates, every posterior "
            "draw has the same log-likelihood, and LOO has no posterior to leave data out of. "
            "Compare held-out log-likelihoods instead, or fit a Bayesian variant (BayesianPPCA)"
        )
    if "log_likelihood" not in data.children:
        raise ValueError(f"{name}: the DataTree has no log_likelihood group")
    for site, values in data["log_likelihood"].data_vars.items():
        bad = int((~np.isfinite(values)).sum())
        if bad:
            raise ValueError(
                f"{name}: the log-likelihood of {site!r} is not finite in {bad} of {values.size} "
                "draws x points (a draw outside the likelihood's support, or an overflow); "
                "LOO of such values is meaningless"
            )


def information_criteria(data: xr.DataTree, name: str = "the model") -> pd.DataFrame:
    """PSIS-LOO by arviz-stats, one row per method (module docstring): ``loo`` and, where the
    tree holds the log-densities of the global draws, ``loo_approximate_posterior``. Columns:
    ``elpd``, ``se``, ``p`` (effective number of parameters), ``max_pareto_k``, ``good_k``
    (arviz-stats' threshold for this many draws) and ``warning``."""
    check_loo_ready(data, name)
    data = joint_log_likelihood(data)
    log_p, log_q = _global_log_densities(data)
    try:
        with _quiet_khat_warning():
            rows = {"loo": pointwise_loo(data)}
            if log_p is not None:
                rows["loo_approximate_posterior"] = arviz_stats.loo_approximate_posterior(
                    data, log_p=log_p, log_q=log_q, pointwise=True
                )
    except ValueError as error:
        reason = f"{name}: arviz-stats' PSIS-LOO refused the tree: {error}"
        if "tail values" in str(error):  # its Pareto fit: "All tail values are the same"
            precision = data.attrs.get("log_likelihood_precision", "unknown")
            reason += (
                "; some point's log-likelihood is the same in every tail draw (computed in "
                f"{precision})"
            )
        raise ValueError(reason) from error
    table = pd.DataFrame(
        [
            {
                "criterion": criterion,
                "elpd": float(result.elpd),
                "se": float(result.se),
                "p": float(result.p),
                "max_pareto_k": float(result.pareto_k.max()),
                "good_k": float(result.good_k),
                "warning": bool(result.warning),
            }
            for criterion, result in rows.items()
        ]
    ).set_index("criterion")
    _check_finite(table, name)
    return table


def joint_log_likelihood(data: xr.DataTree) -> xr.DataTree:
    """``data`` itself when it has one observed site; else a shallow copy whose log_likelihood
    group holds their sum per data point, ``"joint"``: leaving a point out leaves out all its
    observations (arviz-stats otherwise asks which site to use)."""
    sites = data["log_likelihood"].to_dataset()
    if len(sites.data_vars) <= 1:
        return data
    joint = sum(sites[name] for name in sites.data_vars).rename("joint")
    copy = data.copy()
    copy["log_likelihood"] = xr.DataTree(joint.to_dataset(), name="log_likelihood")
    copy["log_likelihood"].attrs["joint_of"] = ",".join(sites.data_vars)
    return copy


def pointwise_loo(data: xr.DataTree):
    """arviz-stats' PSIS-LOO with pointwise values and k̂, without its warning of a large k̂
    (the caller reports k̂ itself)."""
    with _quiet_khat_warning():
        return arviz_stats.loo(data, pointwise=True)


@contextmanager
def _quiet_khat_warning():
    """arviz-stats warns of a large Pareto k̂; ppgen's tables say it in their own columns."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        yield


def _global_log_densities(data: xr.DataTree):
    """``(log p(x, theta_s), log q(theta_s))`` per draw, ``(chain, draw)``, or ``(None, None)``
    when the tree does not hold them."""
    stats = data["sample_stats"] if "sample_stats" in data.children else {}
    for log_p, log_q in (("log_p_global", "log_q_global"), ("log_p", "log_q")):
        if log_p in stats and set(stats[log_p].dims) == {"chain", "draw"}:
            return stats[log_p], stats[log_q]
    return None, None


def _check_finite(table: pd.DataFrame, name: str) -> None:
    """Never hand back NaN where a number is due: say which estimate failed and its k̂."""
    for criterion, row in table.iterrows():
        if not np.isfinite(row[["elpd", "se", "p"]].to_numpy(dtype=float)).all():
            raise ValueError(
                f"{name}: {criterion} came out {row['elpd']} (max Pareto k̂ "
                f"{row['max_pareto_k']}) from finite log-likelihoods: the importance weights "
                "overflow; check the guide (psis_diagnostics) or use more draws"
            )


def compare_models(models: dict[str, xr.DataTree]) -> pd.DataFrame:
    """:func:`arviz_stats.compare` by PSIS-LOO over named DataTrees, unrounded, after checking
    that each suits LOO. ``elpd_diff`` is each model's elpd minus the best one's (<= 0)."""
    if len(models) < 2:
        raise ValueError(f"compare_models needs at least two models, got {len(models)}")
    for name, data in models.items():
        check_loo_ready(data, repr(name))
    models = {name: joint_log_likelihood(data) for name, data in models.items()}
    with _quiet_khat_warning():
        return arviz_stats.compare(models, round_to="none")
