"""``ppgen analyze RUN_DIR...`` on runs of one model and one data set: the runs as chains.

Runs that differ only in their seed (or initialisation) fit the same posterior; whether they found
the same approximation is what R-hat across them tells (:mod:`ppgen.analysis.run_agreement`).
:func:`analyze_runs_as_chains` writes into its output folder:

- ``inference_data.nc``: the runs' guide draws as chains (a netCDF ``DataTree``);
- ``agreement.csv``: R-hat and ESS across the runs of the global latents and of each run's total
  ``log p`` and ``log q`` per draw, with ``agree`` / ``unclear`` / ``disagree``;
- ``summary.csv``: arviz-stats' ``summary`` of every posterior variable over all runs;
- ``loo.csv`` (or ``loo_skipped.txt``): PSIS-LOO over the pooled draws, where it applies;
- ``agreement.png`` (rank plots per run), ``posterior.png`` (densities, a colour per run).

:func:`runs_share_model_and_data` decides whether runs qualify: the same model with the same
options, and the same tensors on the split analysed.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..analysis.figures import agreement_figure, posterior_figure
from ..analysis.inference_data import to_inference_data
from ..analysis.run_agreement import agreement_quantities, run_agreement
from .analyze import posterior_summary, split_data, write_loo
from .tables import save_figure


def runs_share_model_and_data(loaded: list[tuple], split: str) -> str | None:
    """``None`` when the ``(model, data, config)`` runs share the model, its options and the
    split's data; else why not (the first difference found)."""
    _, first_data, first = loaded[0]
    for index, (_, data, config) in enumerate(loaded[1:], start=1):
        for key in ("model", "model_options"):
            if config.get(key) != first.get(key):
                theirs, ours = config.get(key), first.get(key)
                return f"run {index}'s {key} {theirs!r} differs from run 0's {ours!r}"
        same_shape = getattr(data, split).shape == getattr(first_data, split).shape
        if not (same_shape and torch.equal(getattr(data, split), getattr(first_data, split))):
            return (
                f"run {index}'s {split} data differ from run 0's (a different data set, options "
                "or data seed)"
            )
    return None


def analyze_runs_as_chains(
    loaded: list[tuple], run_dirs: list, out: Path, split: str, num_samples: int, device
) -> dict:
    """Write the joint analysis of runs that share model and data (module docstring) into
    ``out``; returns ``inference_data``, ``agreement``, ``summary``, ``loo`` and ``loo_skipped``."""

    models = [model for model, _, _ in loaded]
    model, data, config = loaded[0]
    x, kwargs = split_data(model, data, config, split, device)
    tree = to_inference_data(models, x, num_samples, **kwargs)
    tree.attrs.update(
        runs=",".join(map(str, run_dirs)), model=config["model"], data=config["data"], split=split
    )
    tree.to_netcdf(out / "inference_data.nc")
    agreement = run_agreement(tree)
    agreement.to_csv(out / "agreement.csv")
    summary = posterior_summary(tree)
    summary.to_csv(out / "summary.csv")
    loo, loo_skipped = write_loo(tree, config["model"], split, out)
    save_figure(agreement_figure(agreement_quantities(tree)), out / "agreement.png")
    if "posterior" in tree.children:
        save_figure(posterior_figure(tree), out / "posterior.png")
    return {
        "inference_data": tree,
        "agreement": agreement,
        "summary": summary,
        "loo": loo,
        "loo_skipped": loo_skipped,
    }
