"""Bayesian probabilistic PCA: PPCA whose loading matrix and noise are latent, not point estimates.

Generative model (``D`` = data_dim, ``K`` = latent_dim, ``N`` = num_data)::

    W_dk ~ N(0, weight_scale^2),   sigma ~ LogNormal(0, 1)          global, shared by all points
    z_n ~ N(0, I_K),   x_n | z_n, W, sigma ~ N(W z_n + b, sigma^2 I_D)    n = 1..N

The offset ``b`` stays a point estimate (set to the data mean by :meth:`init_from_data`); ``W`` and
``sigma`` get posteriors, so ArviZ has global draws to summarize and LOO has parameters to leave
data out of. The guide is mean-field over the globals (a diagonal Normal on ``W``, a LogNormal on
``sigma``) times PPCA's amortized linear-Gaussian ``q(z_n | x_n)``.

Integrating ``z_n`` out gives ``x_n | W, sigma ~ N(b, W W^T + sigma^2 I)`` exactly;
:meth:`marginal_model` is that program, the one whose pointwise log-likelihood
:func:`ppgen.analysis.to_inference_data` stores for LOO.

Minibatches: the global sites are scaled by ``batch / num_data``, so that a minibatch ELBO is
``batch / num_data`` times an unbiased estimate of the full one, with the globals' KL counted once.
That keeps ppgen's convention of a loss summed over the batch (``fit`` reports it per data point,
the full ELBO divided by ``num_data``). ``num_data`` is a constructor option;
:meth:`init_from_data` sets it to the training set's size when it was not given, and without it
every call is treated as the whole data set.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch
from pyro.nn import PyroParam
from torch.distributions import constraints

from ..registry import MODELS
from ..validation import check_int_in, check_positive_int
from .base import GenerativeModel


@MODELS.register("bayesian_ppca")
class BayesianPPCA(GenerativeModel):
    """PPCA with priors on the loadings ``W`` and the noise ``sigma`` (see module docstring)."""

    reference_setup = {
        "data": ("digits", {"drop_constant": True}),
        "model": {"latent_dim": 10},
        "fit": {},
    }
    example_options = {"latent_dim": 2}

    traceable = True  # no data-dependent control flow in model/guide

    likelihood = "gaussian"
    default_lr = 0.01
    default_steps = 5000

    @classmethod
    def example(cls, x: torch.Tensor) -> BayesianPPCA:
        """A small instance initialised from ``x`` (its noise prior is scaled to the data)."""
        return cls(x.shape[-1], **cls.example_options).init_from_data(x)

    def __init__(
        self,
        data_dim: int,
        latent_dim: int = 2,
        *,
        weight_scale: float = 1.0,
        num_data: int | None = None,
        name: str | None = None,
    ):
        super().__init__(data_dim, name=name)
        check_int_in(latent_dim, "latent_dim", 1, data_dim)
        if not weight_scale > 0:
            raise ValueError(f"weight_scale must be positive, got {weight_scale!r}")
        check_positive_int(num_data, "num_data")
        self.latent_dim = latent_dim
        self.weight_scale = weight_scale
        self.num_data = num_data
        self.b = torch.nn.Parameter(torch.zeros(data_dim))
        # Variational parameters of q(W) q(sigma): a random start breaks the symmetry between
        # factors; small scales let the data speak before the KL pulls W toward the prior.
        self.W_loc = torch.nn.Parameter(torch.randn(data_dim, latent_dim) / latent_dim**0.5)
        self.W_scale = PyroParam(torch.full((data_dim, latent_dim), 0.05), constraints.positive)
        self.noise_loc = torch.nn.Parameter(torch.tensor(0.0))
        self.noise_scale = PyroParam(torch.tensor(0.05), constraints.positive)
        self.guide_weight = torch.nn.Parameter(0.01 * torch.randn(latent_dim, data_dim))
        self.guide_bias = torch.nn.Parameter(torch.zeros(latent_dim))
        self.guide_scale_tril = PyroParam(torch.eye(latent_dim), constraints.lower_cholesky)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> BayesianPPCA:
        """Set ``b`` to the data mean and, unless given, ``num_data`` to ``len(x)``."""
        self.check_data(x, "x")
        self.b.copy_(x.mean(0))
        if self.num_data is None:
            self.num_data = len(x)
        return self

    # ----- Pyro programs ----------------------------------------------------------------------
    def _global_scale(self, x: torch.Tensor):
        """Scales the global sites by ``batch / num_data`` (1 without ``num_data``)."""
        scale = 1.0 if self.num_data is None else x.shape[0] / self.num_data
        return poutine.scale(scale=scale)

    def _global_priors(self, x: torch.Tensor):
        weight_prior = dist.Normal(
            self.b.new_zeros(()), self.b.new_tensor(self.weight_scale)
        ).expand([self.data_dim, self.latent_dim])
        with self._global_scale(x):
            W = pyro.sample("W", weight_prior.to_event(2))  # (D, K), or (samples, 1, D, K)
            noise_std = pyro.sample("noise_std", dist.LogNormal(self.b.new_zeros(()), 1.0))
        return W, noise_std

    def model(self, x: torch.Tensor) -> None:
        W, noise_std = self._global_priors(x)
        prior = dist.MultivariateNormal(
            W.new_zeros(self.latent_dim), scale_tril=torch.eye(self.latent_dim).to(W)
        )
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            z = pyro.sample("z", prior)  # (batch, K), or (samples, batch, K)
            loc = (z.unsqueeze(-2) @ W.transpose(-1, -2)).squeeze(-2) + self.b  # (..., batch, D)
            scale = noise_std[..., None].expand(loc.shape)
            pyro.sample(self.observed_site, dist.Normal(loc, scale).to_event(1), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        with self._global_scale(x):
            pyro.sample("W", dist.Normal(self.W_loc, self.W_scale).to_event(2))
            pyro.sample("noise_std", dist.LogNormal(self.noise_loc, self.noise_scale))
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            loc = x @ self.guide_weight.T + self.guide_bias  # (batch, K)
            pyro.sample("z", dist.MultivariateNormal(loc, scale_tril=self.guide_scale_tril))

    def marginal_model(self, x: torch.Tensor) -> None:
        """The model with every ``z_n`` integrated out: ``x_n ~ N(b, W W^T + sigma^2 I)``."""
        W, noise_std = self._global_priors(x)
        variance = noise_std.pow(2)[..., None].expand(*noise_std.shape, self.data_dim)
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            marginal = dist.LowRankMultivariateNormal(self.b, W, variance)
            pyro.sample(self.observed_site, marginal, obs=x)

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}, latent_dim={self.latent_dim}, num_data={self.num_data}"
