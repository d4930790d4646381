"""Posterior analysis in ArviZ: a fitted model/guide pair as ``InferenceData``
(:func:`to_inference_data`), PSIS diagnostics of the guide (:func:`psis_diagnostics`), and LOO /
WAIC model comparison through ArviZ (:func:`information_criteria`, :func:`compare_models`)."""

from .diagnostics import (
    GuideDiagnostics,
    check_loo_ready,
    compare_models,
    information_criteria,
    khat_band,
    psis_diagnostics,
)
from .inference_data import to_inference_data

__all__ = [
    "GuideDiagnostics",
    "check_loo_ready",
    "compare_models",
    "information_criteria",
    "khat_band",
    "psis_diagnostics",
    "to_inference_data",
]
