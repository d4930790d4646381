"""Is the guide good enough, and which model predicts best? PSIS k̂ of the guide, LOO and WAIC.

**PSIS k̂ of the guide** (Yao, Vehtari, Simpson & Gelman 2018, "Yes, but did it work?"): the
guide's draws ``z_s ~ q`` with log weights ``log p(x, z_s) - log q(z_s | x)`` are an importance
sample for the posterior. ArviZ's :func:`arviz.psislw` fits a generalized Pareto distribution to
the largest weights; its shape ``k̂`` estimates how heavy the weights' tail is, i.e. how far q is
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

**LOO and WAIC** (Vehtari, Gelman & Gabry 2017) through ArviZ, on the pointwise log-likelihood of
:func:`~ppgen.analysis.to_inference_data`. They estimate out-of-sample predictive accuracy from
posterior draws of the parameters, so they need (a) the *marginal* log-likelihood (local latents
integrated out: LOO over ``log p(x_n | z_n)`` at the guide's own ``z_n`` scores reconstructions,
not the model) and (b) global latents with a posterior (for point-estimated parameters every draw is
the same and there is nothing to leave out: compare held-out log-likelihoods instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd

#: Upper edges of the k̂ bands (Yao et al. 2018; Vehtari et al. 2024 for the 0.7 cut-off).
KHAT_GOOD, KHAT_OK, KHAT_BAD = 0.5, 0.7, 1.0
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


def psis_diagnostics(data: az.InferenceData) -> GuideDiagnostics:
    """PSIS k̂ of the guide from ``sample_stats.log_weight`` of
    :func:`~ppgen.analysis.to_inference_data` (see the module docstring)."""
    if "sample_stats" not in data.groups() or "log_weight" not in data.sample_stats:
        raise ValueError(
            "the InferenceData has no sample_stats.log_weight; make it with "
            "ppgen.analysis.to_inference_data"
        )
    log_weight = data.sample_stats["log_weight"]
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
    if "log_weight_global" in data.sample_stats:
        global_draws = data.sample_stats["log_weight_global"].values.reshape(1, -1)
        global_khat = float(_khat(global_draws.astype(np.float64))[0])
    return GuideDiagnostics(
        pointwise, float(_khat(draws[None])[0]), draws.shape[-1], global_khat=global_khat
    )


def _khat(log_weights: np.ndarray) -> np.ndarray:
    """k̂ per row of ``(rows, samples)`` log weights; ``-inf`` for rows that do not vary."""
    khat = np.full(len(log_weights), -np.inf)
    varies = np.ptp(log_weights, axis=1) > CONSTANT_WEIGHTS_SPREAD
    if varies.any():
        _, khat[varies] = az.psislw(log_weights[varies])
    return khat


def check_loo_ready(data: az.InferenceData, name: str = "the model") -> None:
    """Raise a clear error unless LOO and WAIC mean something for ``data`` (module docstring)."""
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


def information_criteria(data: az.InferenceData, name: str = "the model") -> pd.DataFrame:
    """PSIS-LOO and WAIC by ArviZ, one row each: ``elpd``, ``se``, ``p`` (effective number of
    parameters), ``warning``; LOO's row adds the worst Pareto k̂ of its pointwise weights."""
    check_loo_ready(data, name)
    loo = az.loo(data, pointwise=True)
    waic = az.waic(data)
    rows = [
        {
            "criterion": "loo",
            "elpd": loo.elpd_loo,
            "se": loo.se,
            "p": loo.p_loo,
            "max_pareto_k": float(loo.pareto_k.max()),
            "warning": bool(loo.warning),
        },
        {"criterion": "waic", "elpd": waic.elpd_waic, "se": waic.se, "p": waic.p_waic},
    ]
    rows[1]["warning"] = bool(waic.warning)
    return pd.DataFrame(rows).set_index("criterion")


def compare_models(models: dict[str, az.InferenceData], ic: str = "loo") -> pd.DataFrame:
    """:func:`arviz.compare` over named InferenceData, after checking that each suits LOO/WAIC."""
    if len(models) < 2:
        raise ValueError(f"compare_models needs at least two models, got {len(models)}")
    for name, data in models.items():
        check_loo_ready(data, repr(name))
    return az.compare(models, ic=ic)
