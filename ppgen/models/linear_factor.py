"""Linear-Gaussian factor models: the shared core of probabilistic PCA and factor analysis.

Generative model (``D`` = data_dim, ``K`` = latent_dim)::

    z ~ N(0, I_K),    x | z ~ N(W z + b, Psi),    Psi diagonal

so the marginal is ``N(b, W W^T + Psi)`` and the posterior is Gaussian with a covariance that does
not depend on ``x``::

    Lambda = (I + W^T Psi^-1 W)^-1 = I - W^T (W W^T + Psi)^-1 W
    mu(x)  = Lambda W^T Psi^-1 (x - b) = W^T (W W^T + Psi)^-1 (x - b)

The guide is amortized and linear-Gaussian, ``q(z | x) = N(A x + c, L L^T)``, a family that
contains the exact posterior (``A = Lambda W^T Psi^-1``, ``c = -A b``, ``L = chol(Lambda)``), so
the ELBO can be tight. Subclasses only say how ``Psi`` is parameterized.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro.nn import PyroParam
from torch.distributions import constraints

from ..validation import check_int_in
from .base import GenerativeModel


class LinearFactorModel(GenerativeModel):
    """Shared model, guide and closed forms of PPCA and factor analysis (see module docstring)."""

    traceable = True  # no data-dependent control flow in model/guide

    likelihood = "gaussian"
    # Linear-Gaussian models take large steps: on digits (61 dimensions, 10 factors), from a
    # random start, these converge to within 0.1 nats per image of scikit-learn's optimum
    # (benchmarks/results/fit_defaults.md; 5000 steps were 0.6 nats short and still improving).
    default_lr = 0.03
    default_steps = 8000

    def __init__(self, data_dim: int, latent_dim: int = 2, *, name: str | None = None):
        super().__init__(data_dim, name=name)
        check_int_in(latent_dim, "latent_dim", 1, data_dim)
        self.latent_dim = latent_dim
        # Random initialisation; scaled so that W W^T starts comparable to unit noise.
        self.W = torch.nn.Parameter(torch.randn(data_dim, latent_dim) / latent_dim**0.5)
        self.b = torch.nn.Parameter(torch.zeros(data_dim))
        self.guide_weight = torch.nn.Parameter(0.01 * torch.randn(latent_dim, data_dim))
        self.guide_bias = torch.nn.Parameter(torch.zeros(latent_dim))
        self.guide_scale_tril = PyroParam(torch.eye(latent_dim), constraints.lower_cholesky)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> LinearFactorModel:
        """Set the offset ``b`` to the data mean (W, noise and guide keep their random start).

        The standard data-dependent bias initialisation: without it, on raw-scale data such as
        digits (levels 0..16), thousands of Adam steps go into merely moving ``b`` to the mean.
        Returns the model, so ``PPCA(61, 10).init_from_data(x)`` chains.
        """
        self.check_data(x, "x")
        self.b.copy_(x.mean(0))
        return self

    def noise_variance(self) -> torch.Tensor:
        """The diagonal of Psi, shape ``(data_dim,)``."""
        raise NotImplementedError

    # ----- Pyro programs ----------------------------------------------------------------------
    def model(self, x: torch.Tensor) -> None:
        W, b = self.W, self.b  # (D, K), (D,)
        noise_std = self.noise_variance().sqrt()  # (D,)
        prior = dist.MultivariateNormal(
            W.new_zeros(self.latent_dim), scale_tril=torch.eye(self.latent_dim).to(W)
        )
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            z = pyro.sample("z", prior)  # (batch, K), or (particles, batch, K)
            loc = z @ W.T + b  # (..., batch, D)
            pyro.sample(self.observed_site, dist.Normal(loc, noise_std).to_event(1), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            pyro.sample("z", self.variational_posterior(x))

    def variational_posterior(self, x: torch.Tensor) -> dist.MultivariateNormal:
        """The guide's ``q(z | x)`` as a distribution with batch shape ``(batch,)``."""
        loc = x @ self.guide_weight.T + self.guide_bias  # (batch, K)
        return dist.MultivariateNormal(loc, scale_tril=self.guide_scale_tril)

    def marginal_model(self, x: torch.Tensor) -> None:
        """The model with ``z`` integrated out, ``x ~ N(b, W W^T + Psi)``, as a Pyro program
        (what :func:`ppgen.analysis.to_inference_data` scores for a marginal log-likelihood)."""
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            pyro.sample(self.observed_site, self.marginal(), obs=x)

    # ----- closed forms -----------------------------------------------------------------------
    def marginal(self) -> dist.LowRankMultivariateNormal:
        """The exact marginal ``p(x) = N(b, W W^T + Psi)``, evaluated in O(D K^2) by Woodbury."""
        return dist.LowRankMultivariateNormal(self.b, self.W, self.noise_variance())

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(x)`` per data point, shape ``(batch,)``."""
        self.check_data(x, "x")
        return self.marginal().log_prob(x)

    def posterior(self, x: torch.Tensor) -> dist.MultivariateNormal:
        """The exact posterior ``p(z | x)`` with batch shape ``(batch,)`` (see module docstring)."""
        self.check_data(x, "x")
        W_over_psi = self.W / self.noise_variance()[:, None]  # Psi^-1 W, (D, K)
        precision = torch.eye(self.latent_dim).to(self.W) + self.W.T @ W_over_psi  # (K, K)
        covariance = torch.cholesky_inverse(torch.linalg.cholesky(precision))  # Lambda
        loc = (x - self.b) @ W_over_psi @ covariance  # (batch, K); Lambda is symmetric
        return dist.MultivariateNormal(loc, covariance_matrix=covariance)

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}, latent_dim={self.latent_dim}"
