"""Synthetic data from a linear-Gaussian factor model with known parameters.

``x = W z + b + eps``, ``z ~ N(0, I_K)``, ``eps ~ N(0, noise_std^2 I_D)``. The true ``W``, ``b``,
noise and latent dimension are in ``meta``, and the exact marginal
``N(b, W W^T + noise^2 I)`` is the data set's ``log_density``, so fitted PPCA / factor analysis
can be checked against the truth.
"""

from __future__ import annotations

import torch

from ..registry import DATASETS
from .dataset import Dataset


def load_linear_gaussian(
    *,
    seed: int = 0,
    data_dim: int = 10,
    latent_dim: int = 3,
    noise_std: float = 0.5,
    num_train: int = 1000,
    num_val: int = 500,
    num_test: int = 500,
) -> Dataset:
    """Draw a random (seeded) W and b, then seeded splits from the model they define."""
    if not 0 < latent_dim <= data_dim:
        raise ValueError(f"need 0 < latent_dim <= data_dim, got {latent_dim} and {data_dim}")
    if noise_std <= 0:
        raise ValueError(f"noise_std must be positive, got {noise_std}")
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(data_dim, latent_dim, generator=generator)
    bias = torch.randn(data_dim, generator=generator)

    def draw(n):
        z = torch.randn(n, latent_dim, generator=generator)
        return z @ weight.T + bias + noise_std * torch.randn(n, data_dim, generator=generator)

    splits = [draw(n) for n in (num_train, num_val, num_test)]
    covariance = weight @ weight.T + noise_std**2 * torch.eye(data_dim)

    def log_density(x):
        marginal = torch.distributions.MultivariateNormal(bias.to(x), covariance.to(x))
        return marginal.log_prob(x)

    return Dataset(
        name="linear_gaussian",
        train=splits[0],
        val=splits[1],
        test=splits[2],
        meta={"W": weight, "b": bias, "noise_std": noise_std, "latent_dim": latent_dim},
        log_density=log_density,
    )


DATASETS.register(
    "linear_gaussian",
    load_linear_gaussian,
    description="synthetic linear-Gaussian factor data with known W, noise and latent dimension",
)
