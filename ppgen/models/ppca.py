"""Probabilistic PCA (Tipping & Bishop 1999): a linear-Gaussian factor model with isotropic noise.

``x | z ~ N(W z + b, sigma^2 I)``. Its maximum-likelihood fit has a closed form (the top principal
directions, scaled), which is what ``sklearn.decomposition.PCA(n).score`` evaluates; ppgen's PPCA
reaches it by SVI from a random start.
"""

from __future__ import annotations

import torch
from pyro.nn import PyroParam
from torch.distributions import constraints

from ..registry import MODELS
from .linear_factor import LinearFactorModel


@MODELS.register("ppca")
class PPCA(LinearFactorModel):
    """Probabilistic PCA with ``latent_dim`` factors and one shared noise standard deviation."""

    reference_setup = {
        "data": ("digits", {"drop_constant": True}),
        "model": {"latent_dim": 10},
        "fit": {},
    }
    example_options = {"latent_dim": 2}

    def __init__(self, data_dim: int, latent_dim: int = 2, *, name: str | None = None):
        super().__init__(data_dim, latent_dim, name=name)
        self.noise_std = PyroParam(torch.tensor(1.0), constraints.positive)

    def noise_variance(self) -> torch.Tensor:
        return self.noise_std.pow(2).expand(self.data_dim)
