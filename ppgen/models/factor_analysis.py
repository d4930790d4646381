"""Factor analysis: a linear-Gaussian factor model with a separate noise variance per dimension.

``x | z ~ N(W z + b, diag(psi))``. Unlike PPCA its likelihood is unbounded on a zero-variance data
column (``psi_j -> 0``), so such columns are refused. ``sklearn.decomposition.FactorAnalysis``
fits the same model by iterated SVD; ppgen fits it by SVI.
"""

from __future__ import annotations

import torch
from pyro.nn import PyroParam
from torch.distributions import constraints

from ..registry import MODELS
from .linear_factor import LinearFactorModel


@MODELS.register("fa")
class FactorAnalysis(LinearFactorModel):
    """Factor analysis with ``latent_dim`` factors and diagonal noise ``psi``."""

    reference_setup = {
        "data": ("digits", {"drop_constant": True}),
        "model": {"latent_dim": 10},
        "fit": {},
    }
    example_options = {"latent_dim": 2}

    constant_columns_unbounded = True
    default_lr = 0.01  # per-dimension noise scales are unstable at PPCA's 0.03

    def __init__(self, data_dim: int, latent_dim: int = 2, *, name: str | None = None):
        super().__init__(data_dim, latent_dim, name=name)
        self.noise_std = PyroParam(torch.ones(data_dim), constraints.positive)

    def noise_variance(self) -> torch.Tensor:
        return self.noise_std.pow(2)
