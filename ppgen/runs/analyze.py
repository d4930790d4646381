"""``ppgen analyze``: a saved run's posterior in ArviZ, written to disk with tables and figures.

For each run folder (written by ``ppgen fit``) :func:`analyze_run` writes into ``<run>/analysis/``:

- ``inference_data.nc``: :func:`~ppgen.analysis.to_inference_data` on one split (a netCDF
  ``DataTree``; read it with ``xarray.open_datatree``);
- ``summary.csv``: arviz-stats' ``summary`` of the posterior (means, sds, credible intervals);
- ``psis.csv``: the guide's k̂ per data point (where latents are local) and ``psis_summary.csv``;
- ``loo.csv``: PSIS-LOO, plain and corrected for the approximate posterior, where it means
  something: on the train split (the points the posterior was fitted to), for global latents and
  a marginal log-likelihood (see :mod:`ppgen.analysis.diagnostics`); else ``loo_skipped.txt``
  says why;
- ``posterior.png``, ``ppc.png``, ``khat.png``: :mod:`ppgen.analysis.figures`.

:func:`compare_runs` ranks several runs: by arviz-stats' ``compare`` (LOO) where every run allows
it, else by the log-likelihood per point on the split, as ``ppgen evaluate`` reports it. Runs of
one model on the same data are analysed together instead, as chains
(:mod:`ppgen.analysis.chains_report`).
"""

from __future__ import annotations

from pathlib import Path

import arviz_stats
import numpy as np
import pandas as pd
import xarray as xr

from ..analysis.diagnostics import (
    check_loo_ready,
    compare_models,
    information_criteria,
    psis_diagnostics,
)
from ..analysis.figures import khat_figure, posterior_figure, ppc_figure
from ..analysis.inference_data import to_inference_data
from .folder import load_run
from .scoring import score_model
from .tables import save_figure

HELD_OUT_NOTE = (
    "LOO estimates out-of-sample accuracy from the points the posterior was fitted to "
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
    :func:`ppgen.runs.folder.load_run`."""

    model, data, config = load_run(run_dir, device, trust_code=trust_code)
    x, kwargs = split_data(model, data, config, split, device)
    out = Path(run_dir) / "analysis"
    out.mkdir(exist_ok=True)

    idata = to_inference_data(model, x, num_samples, **kwargs)
    idata.attrs.update(run=str(run_dir), model=config["model"], data=config["data"], split=split)
    idata.to_netcdf(out / "inference_data.nc")

    summary = posterior_summary(idata)
    summary.to_csv(out / "summary.csv")
    psis = psis_diagnostics(idata)
    psis.pointwise.to_csv(out / "psis.csv")
    psis.summary().to_frame("value").to_csv(out / "psis_summary.csv")
    loo, loo_skipped = write_loo(idata, config["model"], split, out)

    if "posterior" in idata.children:
        save_figure(posterior_figure(idata), out / "posterior.png")
    save_figure(ppc_figure(idata), out / "ppc.png")
    save_figure(khat_figure(psis, idata if loo is not None else None), out / "khat.png")
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


def write_loo(data: xr.DataTree, name: str, split: str, out: Path) -> tuple:
    """``(table, None)`` with ``loo.csv`` written where LOO applies; else ``(None, reason)`` with
    ``loo_skipped.txt`` saying why."""
    try:
        if split != "train":
            raise ValueError(HELD_OUT_NOTE.format(split=split))
        table = information_criteria(data, name)
    except ValueError as reason:
        (out / "loo_skipped.txt").write_text(f"{reason}\n")
        return None, str(reason)
    table.to_csv(out / "loo.csv")
    return table, None


def split_data(model, data, config: dict, split: str, device) -> tuple:
    """``(x, kwargs)`` of a run's split (labels as ``y`` for a conditional model), after refusing
    an unknown split and a model without a likelihood."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    if model.likelihood == "implicit":
        raise ValueError(
            f"{config['model']} has no likelihood (it learns from a two-sample loss): there is no "
            "posterior or log-likelihood to analyse; `ppgen evaluate` scores its samples"
        )
    kwargs = {"y": getattr(data, f"{split}_labels").to(device)} if model.conditional else {}
    return getattr(data, split), kwargs


def compare_runs(analyses: dict[str, dict], split: str = "train") -> pd.DataFrame:
    """Rank analysed runs (``name -> analyze_run(...)``): arviz-stats' ``compare`` by LOO on the
    train split when every run allows it, else by the mean log-likelihood per data point on
    ``split`` (held out unless it is ``"train"``)."""
    models = {name: analysis["inference_data"] for name, analysis in analyses.items()}
    try:
        if split != "train":
            raise ValueError(HELD_OUT_NOTE.format(split=split))
        for name, idata in models.items():
            check_loo_ready(idata, name)
    except ValueError:
        return _heldout_comparison(analyses, split)
    table = compare_models(models)
    return table.rename_axis("run").reset_index().assign(criterion="psis-loo")


def _heldout_comparison(analyses: dict[str, dict], split: str) -> pd.DataFrame:
    """Runs ranked by their held-out log-likelihood (exact, importance-sampled or posterior
    predictive, as ``ppgen evaluate`` reports it), with the paired standard error of the
    difference to the best run where the runs share the data points."""

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


def posterior_summary(data: xr.DataTree) -> pd.DataFrame:
    """arviz-stats' ``summary`` of the posterior, unrounded: the statistics for one run; with
    several runs (chains) the diagnostics too (R-hat and ESS across runs)."""
    if "posterior" not in data.children:
        return pd.DataFrame()
    kind = "stats" if data["posterior"].sizes["chain"] == 1 else "all"
    return arviz_stats.summary(data, kind=kind, round_to="none")
