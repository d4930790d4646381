"""ppgen: deep generative models as Pyro model/guide pairs.

The public entry points: :func:`load_dataset`, the model classes in :mod:`ppgen.models`,
:func:`fit`, and the evaluation and analysis helpers in :mod:`ppgen.evaluation` and
:mod:`ppgen.analysis`.
"""

from .data import Dataset, load_dataset
from .evaluation import compare
from .inference import FitResult, fit
from .models import (
    PPCA,
    VAE,
    FactorAnalysis,
    FlowDensity,
    GenerativeModel,
    Generator,
    SigmoidBeliefNet,
)

__version__ = "0.1.0"

__all__ = [
    "PPCA",
    "SigmoidBeliefNet",
    "VAE",
    "Dataset",
    "compare",
    "FactorAnalysis",
    "FitResult",
    "FlowDensity",
    "GenerativeModel",
    "Generator",
    "fit",
    "load_dataset",
]
