"""Inference: the :func:`fit` training loop and the estimator registry.

Estimators live one per file (``trace.py``, ``meanfield.py``...) and register themselves on import;
custom objectives (MMD, adversarial) live in ``losses/``.
"""

from . import dreg, enum, iwae, meanfield, random_timestep, rws, trace, tracegraph, vimco  # noqa: F401
from .convergence import ConvergenceWarning
from .registry import available_estimators, get_estimator, register_estimator
from .trainer import FitResult, TrainingDivergedError, fit, resolve_device

__all__ = [
    "ConvergenceWarning",
    "FitResult",
    "TrainingDivergedError",
    "available_estimators",
    "fit",
    "get_estimator",
    "register_estimator",
    "resolve_device",
]
