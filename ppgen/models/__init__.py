"""ppgen's model/guide pairs: the :class:`GenerativeModel` base and the families, one per file.

Importing this package imports every file in it, which registers each family
(:data:`ppgen.registry.MODELS`); a new family is one new file. The names below are the public
ones the README uses.
"""

from ..registry import import_submodules
from .base import GenerativeModel
from .bayesian_ppca import BayesianPPCA
from .diffusion import Diffusion
from .draw import DRAW
from .factor_analysis import FactorAnalysis
from .flow_density import FlowDensity
from .generator import Generator
from .linear_factor import LinearFactorModel
from .lookup import available_models, get_model, register_model
from .made import MADE
from .nade import NADE
from .ordered_autoregressive import OrderedAutoregressive
from .ppca import PPCA
from .rnade import RNADE
from .sbn import SigmoidBeliefNet
from .vae import VAE

import_submodules(__name__, __path__)

__all__ = [
    "BayesianPPCA",
    "DRAW",
    "Diffusion",
    "FactorAnalysis",
    "FlowDensity",
    "GenerativeModel",
    "Generator",
    "LinearFactorModel",
    "MADE",
    "NADE",
    "OrderedAutoregressive",
    "PPCA",
    "RNADE",
    "SigmoidBeliefNet",
    "VAE",
    "available_models",
    "get_model",
    "register_model",
]
