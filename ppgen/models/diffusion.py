"""Diffusion (Sohl-Dickstein et al. 2015; Ho et al. 2020) as a hierarchical VAE.

The **guide** is the fixed forward noising chain, with no parameters: from ``y_0``, the data on
the chain's scale (binary pixels as ``2 x - 1``, real data standardized),

    q(y_t | y_{t-1}) = N(sqrt(1 - beta_t) y_{t-1}, beta_t I),      t = 1 .. T

under ``pyro.markov``, so that ``q(y_t | y_0) = N(sqrt(abar_t) y_0, (1 - abar_t) I)`` with
``abar_t = prod_{s <= t} (1 - beta_s)`` (the cosine schedule of Nichol & Dhariwal 2021, ending
near ``abar_T = 0``). The **model** is the learned reverse chain,

    y_T ~ N(0, I),   y_{t-1} | y_t ~ N(mu(y_t, t), tbeta_t I)    t = T .. 2
    x | y_1 ~ Bernoulli(logits = f(y_1))    or    N(mean + std * f(y_1), std * s)

with ``mu`` the forward posterior's mean ``E[y_{t-1} | y_t, y_0]`` at a predicted ``y_0`` (one
MLP with a learned embedding of ``t``; ``tanh`` keeps it in [-1, 1] for binary data) and
``tbeta_t`` the forward posterior's variance. ``Trace_ELBO`` on this pair is the exact
ELBO in nats (O(T) network passes per estimate). :meth:`Diffusion.elbo_terms` splits its
expectation into T + 1 terms: the prior's KL (closed form), T - 1 KL divergences between Gaussians
and the decoder's log-likelihood; the registered estimator ``"timestep"``
(:mod:`ppgen.inference.random_timestep`) draws one of them per point and multiplies it by T: an
unbiased estimate at the cost of two network passes (one at the drawn step, one at step 1),
whatever T.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from ..registry import MODELS
from ..validation import check_int_at_least, check_name, check_positive_int
from .base import GenerativeModel
from .networks import mlp

DIFFUSION_LIKELIHOODS = ("bernoulli", "gaussian")
# The cosine schedule's offset (Nichol & Dhariwal 2021) and a cap on beta_t. With few steps the
# schedule's last beta would be 1 (no signal left, and a reverse step of weight 1 / (1 - beta) in
# the ELBO); capped at 0.5, abar_T is 0.0067 for T = 20 and the prior's KL about 0.2 nats for 64
# binary pixels.
COSINE_OFFSET, MAX_BETA = 0.008, 0.5


def cosine_schedule(steps: int) -> torch.Tensor:
    """``beta_1 .. beta_T`` of the cosine schedule, float64, shape ``(T,)``."""
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    abar = torch.cos((t + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
    return (1 - abar[1:] / abar[:-1]).clamp(max=MAX_BETA)


@MODELS.register("diffusion")
class Diffusion(GenerativeModel):
    """Diffusion as a hierarchical VAE: fixed forward chain as guide, learned reverse chain."""

    reference_setup = {
        "data": ("digits", {"binarize": "threshold"}),
        "model": {},
        "fit": {"estimator": "timestep"},
    }
    example_options = {"steps": 5, "hidden_dims": (32,)}

    traceable = True  # T steps whatever the data
    # The constructor's default, so that the CLI binarizes digits for it; an instance sets its own.
    likelihood = "bernoulli"
    # The budget of benchmarks/digits_reference.py (results there); benchmarks/fit_defaults.py
    # covers the model but has not been run for it yet: fit's convergence check at it is unmeasured.
    default_lr = 1e-3
    default_steps = 10000

    def __init__(
        self,
        data_dim: int,
        steps: int = 20,
        hidden_dims: Sequence[int] = (256, 256),
        likelihood: str = "bernoulli",
        *,
        name: str | None = None,
    ):
        super().__init__(data_dim, name=name)
        check_int_at_least(steps, "steps", 2)
        check_name(likelihood, DIFFUSION_LIKELIHOODS, "likelihood")
        self.steps, self.likelihood = steps, likelihood
        self.hidden_dims = tuple(int(h) for h in hidden_dims)
        betas = cosine_schedule(steps)
        abar = torch.cumprod(1 - betas, 0)
        abar_before = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
        # Index t - 1 holds step t's value; buffers follow the model's device and dtype.
        self.register_buffer("betas", betas.float())
        self.register_buffer("abar", abar.float())
        self.register_buffer("posterior_var", (betas * (1 - abar_before) / (1 - abar)).float())
        self.register_buffer("posterior_coef_y0", (abar_before.sqrt() * betas / (1 - abar)).float())
        self.register_buffer(
            "posterior_coef_yt", ((1 - betas).sqrt() * (1 - abar_before) / (1 - abar)).float()
        )
        self.register_buffer("data_mean", torch.zeros(data_dim))
        self.register_buffer("data_std", torch.ones(data_dim))
        width = self.hidden_dims[0]
        self.time_embedding = nn.Embedding(steps, width)
        self.input_layer = nn.Linear(data_dim, width)
        self.network = mlp([width, *self.hidden_dims[1:], data_dim])
        if likelihood == "gaussian":  # starts at the forward chain's first step's noise
            self.log_scale = nn.Parameter(torch.full((data_dim,), 0.5 * math.log(betas[0])))

    # ----- the chain's pieces -------------------------------------------------------------------
    def _at(self, buffer: torch.Tensor, t) -> torch.Tensor:
        """Step ``t``'s value (an int, or a long tensor of steps ``(..., batch)``) with a trailing
        dimension to broadcast against ``(..., batch, D)``."""
        value = buffer[t - 1]
        return value if isinstance(t, int) else value[..., None]

    def to_chain(self, x: torch.Tensor) -> torch.Tensor:
        """``y_0``: binary pixels to +-1, real data standardized by ``data_mean``/``data_std``."""
        if self.likelihood == "bernoulli":
            return 2 * x - 1
        return (x - self.data_mean) / self.data_std

    def predict(self, y: torch.Tensor, t) -> torch.Tensor:
        """The network's output at step ``t``: predicted noise for ``t >= 2``, the decoder's
        parameters (logits, or a standardized mean) for ``t = 1``; ``(..., batch, D)``."""
        index = torch.as_tensor(t, device=y.device) - 1
        hidden = F.relu(self.input_layer(y) + self.time_embedding(index))
        return self.network(hidden)

    def predict_start(self, y: torch.Tensor, t) -> torch.Tensor:
        """The network's guess of ``y_0`` from ``y_t`` (in [-1, 1] for binary data)."""
        out = self.predict(y, t)
        return torch.tanh(out) if self.likelihood == "bernoulli" else out

    def reverse_mean(self, y: torch.Tensor, t) -> torch.Tensor:
        """``mu(y_t, t)``: the forward posterior's mean ``E[y_{t-1} | y_t, y_0]`` at the
        predicted ``y_0`` (the "x_0" parameterization), ``t >= 2``."""
        start = self.predict_start(y, t)
        return self._at(self.posterior_coef_y0, t) * start + self._at(self.posterior_coef_yt, t) * y

    def decoder(self, y1: torch.Tensor) -> dist.Distribution:
        """``p(x | y_1)`` over one data point (event shape ``(D,)``)."""
        out = self.predict(y1, 1)
        if self.likelihood == "bernoulli":
            return dist.Bernoulli(logits=out).to_event(1)
        scale = self.data_std * self.log_scale.exp()
        return dist.Normal(self.data_mean + self.data_std * out, scale).to_event(1)

    # ----- the Pyro programs ------------------------------------------------------------------
    def model(self, x: torch.Tensor) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            zeros = x.new_zeros(x.shape)
            y = pyro.sample(f"y_{self.steps}", dist.Normal(zeros, 1.0).to_event(1))
            for t in pyro.markov(range(self.steps, 1, -1)):
                scale = self._at(self.posterior_var, t).sqrt()
                y = pyro.sample(
                    f"y_{t - 1}", dist.Normal(self.reverse_mean(y, t), scale).to_event(1)
                )
            pyro.sample(self.observed_site, self.decoder(y), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        """The forward chain: fixed, no parameters."""
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            y = self.to_chain(x)
            for t in pyro.markov(range(1, self.steps + 1)):
                beta = self._at(self.betas, t)
                y = pyro.sample(
                    f"y_{t}", dist.Normal((1 - beta).sqrt() * y, beta.sqrt()).to_event(1)
                )

    # ----- the ELBO, term by term ----------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        """One-sample estimates of the ELBO's terms per point (Ho et al. 2020, eq. 5).

        With ``t=None``: ``(T + 1, batch)``, row 0 the prior's ``-KL(q(y_T | y_0) || N(0, I))``
        (exact), row 1 ``log p(x | y_1)`` at ``y_1 ~ q(y_1 | y_0)``, row ``t >= 2``
        ``-KL(q(y_{t-1} | y_t, y_0) || p(y_{t-1} | y_t))`` at ``y_t ~ q(y_t | y_0)``; their sum's
        expectation is the full ELBO. With a long tensor ``t`` of shape ``(batch,)``: the prior
        term plus ``T`` times the term of each point's ``t`` -- the random-timestep estimate.
        """
        y0 = self.to_chain(x)  # (batch, D)
        abar_last = self.abar[-1]
        mean_last = abar_last.sqrt() * y0
        prior = -0.5 * (mean_last**2 + (1 - abar_last) - 1 - torch.log(1 - abar_last)).sum(-1)
        steps = torch.arange(1, self.steps + 1, device=x.device)[:, None] if t is None else t
        steps = steps.expand(steps.shape[:-1] + x.shape[:1])  # (T, batch) or (batch,)
        abar = self._at(self.abar, steps)
        y_t = abar.sqrt() * y0 + (1 - abar).sqrt() * torch.randn(
            steps.shape + y0.shape[-1:], device=x.device, dtype=x.dtype
        )
        decoded = self.decoder(y_t).log_prob(x)  # used where t = 1
        safe = steps.clamp(min=2)  # the KL's formula, used where t >= 2
        posterior_mean = (
            self._at(self.posterior_coef_y0, safe) * y0
            + self._at(self.posterior_coef_yt, safe) * y_t
        )
        kl = ((posterior_mean - self.reverse_mean(y_t, safe)) ** 2).sum(-1) / (
            2 * self.posterior_var[safe - 1]
        )
        terms = torch.where(steps == 1, decoded, -kl)
        if t is None:
            return torch.cat([prior[None], terms])
        return prior + self.steps * terms

    def random_timestep_elbo(self, x: torch.Tensor) -> torch.Tensor:
        """The random-timestep estimate of the ELBO per point: unbiased, two network passes."""
        t = torch.randint(1, self.steps + 1, x.shape[:1], device=x.device)
        return self.elbo_terms(x, t)

    # ----- sampling along the reverse chain ------------------------------------------------------
    @torch.no_grad()
    def reverse_chain(self, num_samples: int) -> torch.Tensor:
        """``y_T, ..., y_1`` of ``num_samples`` draws, mapped to data space, then the decoder's
        mean: ``(T + 1, num_samples, D)``."""
        check_positive_int(num_samples, "num_samples", allow_none=False)
        y = torch.randn(num_samples, self.data_dim, device=self.device, dtype=self.dtype)
        frames = [y]
        for t in range(self.steps, 1, -1):
            y = self.reverse_mean(y, t) + self.posterior_var[t - 1].sqrt() * torch.randn_like(y)
            frames.append(y)
        frames.append(self.decoder(y).mean)
        if self.likelihood == "bernoulli":
            return torch.stack([(f + 1) / 2 for f in frames[:-1]] + frames[-1:])
        return torch.stack([self.data_mean + self.data_std * f for f in frames[:-1]] + frames[-1:])

    def init_from_data(self, x: torch.Tensor) -> Diffusion:
        """Real data: the chain's standardization at the data's mean and spread."""
        self.check_data(x, "x")
        if self.likelihood == "gaussian":
            with torch.no_grad():
                self.data_mean.copy_(x.mean(0))
                self.data_std.copy_(x.std(0).clamp_min(1e-3))
        return self

    def extra_repr(self) -> str:
        return (
            f"data_dim={self.data_dim}, steps={self.steps}, hidden_dims={list(self.hidden_dims)}, "
            f"likelihood={self.likelihood!r}"
        )
