"""Training: :func:`fit`, the one training loop for every model/guide pair and every objective,
over its parts (settings, the minibatch plan, the loop, the step and its optimizers, row order and
streaming, checkpoints, history, convergence, the compiled step) and ``distributed/``."""

from .convergence import ConvergenceWarning
from .device import resolve_device
from .history import TrainingDivergedError
from .trainer import FitResult, fit

__all__ = ["ConvergenceWarning", "FitResult", "TrainingDivergedError", "fit", "resolve_device"]
