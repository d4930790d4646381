"""Posterior analysis in ArviZ 1.x: fitted model/guide pairs as an ``xarray.DataTree``
(:func:`to_inference_data`; several runs as chains), whether the runs agree (:func:`run_agreement`,
R-hat across runs), PSIS diagnostics of the guide (:func:`psis_diagnostics`), and PSIS-LOO model
comparison through arviz-stats (:func:`information_criteria`, :func:`compare_models`)."""

from .diagnostics import (
    GuideDiagnostics,
    check_loo_ready,
    compare_models,
    information_criteria,
    khat_band,
    psis_diagnostics,
)
from .inference_data import to_inference_data
from .run_agreement import run_agreement

__all__ = [
    "GuideDiagnostics",
    "check_loo_ready",
    "compare_models",
    "information_criteria",
    "khat_band",
    "psis_diagnostics",
    "run_agreement",
    "to_inference_data",
]
