"""``ppgen analyze``: a saved run's posterior in ArviZ, written to disk with tables and figures.

For each run folder (written by ``ppgen fit``) :func:`analyze_run` writes into ``<run>/analysis/``:

- ``inference_data.nc``: :func:`~ppgen.analysis.to_inference_data` on one split (netCDF);
- ``summary.csv``: :func:`arviz.summary` of the posterior (means, sds, HDIs);
- ``psis.csv``: the guide's k̂ per data point (where latents are local) and ``psis_summary.csv``;
- ``loo.csv``: PSIS-LOO and WAIC, where they mean something: on the train split (the points the
  posterior was fitted to), for global latents and a marginal log-likelihood (see
  :mod:`ppgen.analysis.diagnostics`); else ``loo_skipped.txt`` says why;
- ``posterior.png``, ``ppc.png``, ``khat.png``: ArviZ's posterior, posterior-predictive and k̂ plots.

:func:`compare_runs` ranks several runs: by :func:`arviz.compare` (LOO) where every run allows it,
else by the log-likelihood per point on the split, as ``ppgen evaluate`` reports it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .diagnostics import check_loo_ready, information_criteria, psis_diagnostics
from .inference_data import to_inference_data

#: Data points whose local latents the posterior plot shows (a forest plot, one row each).
NUM_POINTS_PLOTTED = 4
#: Posterior-predictive draws overlaid on the data in the PPC plot.
NUM_PPC_DRAWS = 50


HELD_OUT_NOTE = (
    "LOO and WAIC estimate out-of-sample accuracy from the points the posterior was fitted to "
    "(the train split); on the {split} split the held-out log-likelihood measures it directly"
)


def analyze_run(
    run_dir: str | Path,
    split: str = "train",
    num_samples: int = 500,
    device="cpu",
    trust_code: bool = False,
) -> dict:
    """Write the analysis of one run folder (see the module docstring); returns its pieces:
    ``model``, ``data`` and ``config`` of the run, ``inference_data``, ``summary``, ``psis``
    (:class:`GuideDiagnostics`), ``loo`` (DataFrame or ``None``), ``loo_skipped`` (why not, or
    ``None``) and ``out`` (the folder written). ``trust_code``: see
    :func:`ppgen.run_folder.load_run`."""
    from ..reporting import save_figure  # reporting imports analysis: import late
    from ..run_folder import load_run

    model, data, config = load_run(run_dir, device, trust_code=trust_code)
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    x = getattr(data, split)
    if model.likelihood == "implicit":
        raise ValueError(
            f"{config['model']} has no likelihood (it learns from a two-sample loss): there is no "
            "posterior or log-likelihood to analyse; `ppgen evaluate` scores its samples"
        )
    kwargs = {"y": getattr(data, f"{split}_labels").to(device)} if model.conditional else {}
    out = Path(run_dir) / "analysis"
    out.mkdir(exist_ok=True)

    idata = to_inference_data(model, x, num_samples, **kwargs)
    idata.attrs.update(run=str(run_dir), model=config["model"], data=config["data"], split=split)
    idata.to_netcdf(str(out / "inference_data.nc"))

    summary = _posterior_summary(idata)
    summary.to_csv(out / "summary.csv")
    psis = psis_diagnostics(idata)
    psis.pointwise.to_csv(out / "psis.csv")
    psis.summary().to_frame("value").to_csv(out / "psis_summary.csv")
    loo, loo_skipped = None, None
    try:
        if split != "train":
            raise ValueError(HELD_OUT_NOTE.format(split=split))
        loo = information_criteria(idata, config["model"])
        loo.to_csv(out / "loo.csv")
    except ValueError as reason:
        loo_skipped = str(reason)
        (out / "loo_skipped.txt").write_text(loo_skipped + "\n")

    if "posterior" in idata.groups():
        save_figure(_posterior_figure(idata), out / "posterior.png")
    save_figure(_ppc_figure(idata), out / "ppc.png")
    save_figure(_khat_figure(psis, idata if loo is not None else None), out / "khat.png")
    return {
        "model": model,
        "data": data,
        "config": config,
        "inference_data": idata,
        "summary": summary,
        "psis": psis,
        "loo": loo,
        "loo_skipped": loo_skipped,
        "out": out,
    }


def compare_runs(analyses: dict[str, dict], split: str = "train") -> pd.DataFrame:
    """Rank analysed runs (``name -> analyze_run(...)``): ``arviz.compare`` by LOO on the train
    split when every run allows it, else by the mean log-likelihood per data point on ``split``
    (held out unless it is ``"train"``)."""
    models = {name: analysis["inference_data"] for name, analysis in analyses.items()}
    try:
        if split != "train":
            raise ValueError(HELD_OUT_NOTE.format(split=split))
        for name, idata in models.items():
            check_loo_ready(idata, name)
    except ValueError:
        return _heldout_comparison(analyses, split)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas' inplace deprecation in ArviZ
        table = az.compare(models, ic="loo")
    return table.rename_axis("run").reset_index().assign(criterion="psis-loo")


def _heldout_comparison(analyses: dict[str, dict], split: str) -> pd.DataFrame:
    """Runs ranked by their held-out log-likelihood (exact, importance-sampled or posterior
    predictive, as ``ppgen evaluate`` reports it), with the paired standard error of the
    difference to the best run where the runs share the data points."""
    from ..reporting import score_model

    rows = []
    for name, analysis in analyses.items():
        model, data, config = analysis["model"], analysis["data"], analysis["config"]
        scores = score_model(model, data, splits=(split,)).iloc[0]
        rows.append(
            {
                "run": name,
                "model": config["model"],
                "data": config["data"],
                "log_lik": scores.get("log_lik", np.nan),
                "method": scores.get("log_lik_method", ""),
            }
        )
    table = pd.DataFrame(rows).sort_values("log_lik", ascending=False, ignore_index=True)
    table["rank"] = range(len(table))
    table["log_lik_diff"] = table["log_lik"].iloc[0] - table["log_lik"]
    table["criterion"] = f"log-likelihood per point on {split}"
    return table


def _posterior_summary(idata: az.InferenceData) -> pd.DataFrame:
    if "posterior" not in idata.groups():
        return pd.DataFrame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one chain: ArviZ warns that R-hat needs several
        return az.summary(idata, kind="stats")


def _local_and_global(idata: az.InferenceData) -> tuple[list[str], list[str]]:
    data_dim = next(iter(set(idata.log_likelihood.dims) - {"chain", "draw"}))
    local = [v for v in idata.posterior.data_vars if data_dim in idata.posterior[v].dims]
    return local, [v for v in idata.posterior.data_vars if v not in local]


def _posterior_figure(idata: az.InferenceData):
    """Global latents: ArviZ's posterior densities (up to 8 panels). Local latents only: a forest
    plot of the first ``NUM_POINTS_PLOTTED`` data points' latents."""
    local, global_ = _local_and_global(idata)
    if global_:
        with az.rc_context({"plot.max_subplots": 8}), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "shows only the first 8 panels"
            # The smallest variables first, so that a scalar (a noise scale) is never cut off.
            global_ = sorted(global_, key=lambda name: idata.posterior[name].size)
            axes = az.plot_posterior(
                idata, var_names=global_, hdi_prob=0.94, textsize=9, figsize=(11, 5)
            )
    else:
        data_dim = next(iter(set(idata.log_likelihood.dims) - {"chain", "draw"}))
        points = idata.posterior[data_dim].values[:NUM_POINTS_PLOTTED]
        rows = (
            sum(idata.posterior[name].size for name in local)
            // idata.posterior.sizes[data_dim]
            // idata.posterior.sizes["draw"]
            * len(points)
        )
        axes = az.plot_forest(
            idata,
            var_names=local,
            coords={data_dim: points},
            combined=True,
            figsize=(6, 1.5 + 0.2 * rows),
        )
    figure = np.ravel(axes)[0].figure
    figure.suptitle("posterior (guide draws)")
    figure.tight_layout()
    return figure


def _ppc_figure(idata: az.InferenceData):
    """Observed values against ``NUM_PPC_DRAWS`` posterior-predictive draws, pooled over data
    points and features (``arviz.plot_ppc``)."""
    draws = min(NUM_PPC_DRAWS, idata.posterior_predictive.sizes["draw"])
    axes = az.plot_ppc(idata, num_pp_samples=draws, random_seed=0, figsize=(6, 4))
    figure = np.ravel(axes)[0].figure
    figure.tight_layout()
    return figure


def _khat_figure(psis, loo_data: az.InferenceData | None):
    """The guide's k̂ per data point with the 0.5 / 0.7 / 1 thresholds. A model with global
    latents has no per-point guide weights: it shows PSIS-LOO's k̂ per data point instead (when
    ``loo_data`` is given), with the guide's joint and global k̂ in the title."""
    figure, axis = plt.subplots(figsize=(7, 3.5))
    if len(psis.pointwise):
        khat = psis.pointwise["khat"].to_numpy()
        label = "PSIS k̂ of the guide"
    elif loo_data is not None:
        khat = az.loo(loo_data, pointwise=True).pareto_k.values
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
