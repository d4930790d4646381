"""ppgen's model/guide pairs: the :class:`GenerativeModel` base, the registry and the families.

Each family lives in its own file; importing this package registers them all.
"""

from .base import GenerativeModel
from .bayesian_ppca import BayesianPPCA
from .diffusion import Diffusion
from .draw import DRAW
from .factor_analysis import FactorAnalysis
from .flow_density import FlowDensity
from .generator import Generator
from .linear_factor import LinearFactorModel
from .made import MADE
from .nade import NADE
from .ordered_autoregressive import OrderedAutoregressive
from .ppca import PPCA
from .registry import available_models, get_model, register_model
from .rnade import RNADE
from .sbn import SigmoidBeliefNet
from .vae import VAE

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
