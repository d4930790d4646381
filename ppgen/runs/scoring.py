"""What goes into a run folder besides the model: scores, tables and figures.

``ppgen fit`` writes ``metrics.csv`` / ``metrics.md`` (:func:`score_model`) and PNG figures
(:func:`write_figures`); ``ppgen evaluate`` adds ``evaluation.csv`` / ``evaluation.md``. Creating,
resuming and reloading run folders is :mod:`ppgen.runs.folder`.
"""

from __future__ import annotations

import pandas as pd
import pyro.poutine as poutine
import torch
from pyro.poutine.util import prune_subsample_sites

from ..analysis import to_inference_data
from ..data import Dataset
from ..evaluation import (
    active_units,
    bits_per_dim,
    elbo,
    kde_log_likelihood,
    log_likelihood,
    memorization_check,
    mmd_test,
    mode_coverage,
    reconstruction_error,
)
from ..evaluation.kde import scott_bandwidth
from ..models.base import GenerativeModel
from ..program.program import read_program


def code_sites(model: GenerativeModel, x: torch.Tensor, **kwargs) -> list[str]:
    """The guide's sample sites that hold a code: real (or 0/1) values. A flow's guide has none;
    an ensemble's choice of ordering is an integer index, not a code (active units and
    reconstructions mean nothing for it)."""
    trace = poutine.trace(model.guide).get_trace(x[:2], **{k: v[:2] for k, v in kwargs.items()})
    trace = prune_subsample_sites(trace)  # plates record their index as a sample site
    return [
        name
        for name, site in trace.nodes.items()
        if site["type"] == "sample" and site["value"].is_floating_point()
    ]


def global_latents(model: GenerativeModel, data: Dataset) -> tuple[str, ...]:
    """The model's latents outside the data plate (a Bayesian model's parameters), read off the
    program's trace on two training rows (with their labels for a conditional model)."""
    x = data.train[:2].to(model.device)
    kwargs = {"y": data.train_labels[:2].to(model.device)} if model.conditional else {}
    return read_program(model, x, kwargs).info.global_latents


#: Guide draws of the global latents behind :func:`score_global_posterior`.
NUM_POSTERIOR_DRAWS = 1000


@torch.no_grad()
def score_global_posterior(
    model: GenerativeModel, data: Dataset, num_draws: int = NUM_POSTERIOR_DRAWS, splits=None
) -> pd.DataFrame:
    """Per-split scores of a model with global latents (BayesianPPCA): ``log_lik`` is the log
    posterior-predictive density per data point, ``log (1/S) sum_s p(x_n | theta_s)`` over ``S``
    guide draws of the globals with the local latents integrated out (``model.marginal_model``).
    Per-datapoint ELBOs do not exist here (the globals' KL is shared by all points)."""

    if model.marginal_model is None:
        raise ValueError(
            f"{type(model).__name__} has global latents but no marginal_model: ppgen cannot score "
            "it per data point"
        )
    rows = []
    for split in splits or ("train", "val", "test"):
        x = getattr(data, split).to(model.device)
        idata = to_inference_data(model, x, num_draws, log_likelihood="marginal")
        log_lik = torch.tensor(idata.log_likelihood[model.observed_site].values[0])
        predictive = torch.logsumexp(log_lik, 0) - torch.log(torch.tensor(float(num_draws)))
        rows.append(
            {
                "split": split,
                "log_lik": float(predictive.mean()),
                "log_lik_method": f"posterior predictive, {num_draws} guide draws",
            }
        )
    return pd.DataFrame(rows)


@torch.no_grad()
def score_model(
    model: GenerativeModel,
    data: Dataset,
    num_samples: int = 100,
    log_lik_samples: int = 5000,
    splits=("train", "val", "test"),
) -> pd.DataFrame:
    """Per-split means, per data point: ``elbo`` (``num_samples`` draws), ``log_lik`` (exact, or
    importance-sampled with ``log_lik_samples``; 0 skips it) with its ``log_lik_method``,
    ``bits_per_dim`` for dequantized data, and for models with one code site the number of
    ``active_units`` and the ``reconstruction_nll`` ``E_q[-log p(x | z)]``. A model without a
    likelihood gets :func:`score_samples` instead."""
    if model.likelihood == "implicit":
        return score_samples(model, data)
    if global_latents(model, data):
        return score_global_posterior(model, data, splits=splits)
    rows = []
    for split in splits:
        x = getattr(data, split).to(model.device)
        labels = getattr(data, f"{split}_labels")
        kwargs = {"y": labels.to(model.device)} if model.conditional else {}
        row = {"split": split, "elbo": float(elbo(model, x, num_samples, **kwargs).mean())}
        if model.has_exact_log_prob:
            row["log_lik"], row["log_lik_method"] = float(model.log_prob(x).mean()), "exact"
        elif log_lik_samples:
            estimate = log_likelihood(model, x, log_lik_samples, **kwargs)
            row["log_lik"] = float(estimate.mean())
            row["log_lik_method"] = f"importance sampling, k={log_lik_samples}"
        if "log_lik" in row and data.dequantization_log_det is not None:
            log_det = data.dequantization_log_det
            row["bits_per_dim"] = bits_per_dim(row["log_lik"], data.num_features, log_det)
        # One code site: its active units and reconstructions. Several (DRAW's steps, a diffusion
        # chain's levels) have no single code to count units of.
        if len(code_sites(model, x, **kwargs)) == 1:
            row["active_units"] = active_units(model, x, **kwargs) if len(x) > 1 else None
            row["reconstruction_nll"] = float(reconstruction_error(model, x, **kwargs).mean())
        rows.append(row)
    return pd.DataFrame(rows)


#: Generated points scored by :func:`score_samples` (the mode-coverage convention for 2-D mixtures).
NUM_SCORED_SAMPLES = 2500
#: Candidate bandwidths of the kernel-density score, as multiples of Scott's rule.
KDE_BANDWIDTH_FACTORS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def sample_kde(samples: torch.Tensor, data: Dataset):
    """``points -> log p_kde(points)`` for the kernel density estimate of ``samples``, its
    bandwidth chosen on ``data.val`` among multiples of Scott's rule."""

    scott = scott_bandwidth(samples)
    candidates = [factor * scott for factor in KDE_BANDWIDTH_FACTORS]
    val = data.val.to(samples.device)
    return lambda points: kde_log_likelihood(samples, points, candidates, validation=val)


@torch.no_grad()
def score_samples(
    model: GenerativeModel, data: Dataset, num_samples: int = NUM_SCORED_SAMPLES
) -> pd.DataFrame:
    """Sample-based scores of a model without a likelihood (a Generator), one row for the test
    split: ``mmd2`` and its permutation ``mmd_p_value`` against up to 1000 test points, the
    kernel-density ``kde_log_lik`` of the test points (bandwidth chosen on the val split), the
    memorization check (``nn_distance_ratio``, ``copy_fraction``), and for 2-D Gaussian mixtures
    ``modes_captured`` / ``high_quality_fraction`` of ``num_samples`` samples."""
    samples = model.sample(num_samples)
    test = data.test.to(model.device)
    shown = min(len(samples), len(test), 1000)
    test_result = mmd_test(samples[:shown], test[:shown], num_permutations=200)
    kde = sample_kde(samples, data)(test)
    memorization = memorization_check(samples, data.train.to(model.device), test)
    row = {
        "split": "test",
        "mmd2": test_result.statistic,
        "mmd_p_value": test_result.p_value,
        "kde_log_lik": float(kde.mean()),
        "nn_distance_ratio": memorization["ratio"],
        "copy_fraction": memorization["copy_fraction"],
    }
    if data.mode_centers is not None:
        coverage = mode_coverage(samples, data.mode_centers, data.mode_std)
        row["modes_captured"] = coverage["modes_captured"]
        row["num_modes"] = coverage["num_modes"]
        row["high_quality_fraction"] = coverage["high_quality_fraction"]
    return pd.DataFrame([row])
