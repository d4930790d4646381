"""Sigmoid belief networks (Neal 1992) with a Helmholtz-machine recognition network.

Generative model, binary latent layers listed from the data upwards, ``hidden = [H_1, ..., H_L]``::

    h_L ~ Bernoulli(sigmoid(b_L))                          (factorial top layer)
    h_l | h_{l+1} ~ Bernoulli(sigmoid(W_l h_{l+1} + b_l))   for l = L-1, ..., 1
    x | h_1 ~ Bernoulli(sigmoid(W_0 h_1 + b_0))

Guide (recognition network, Dayan et al. 1995): ``q(h_1 | x) q(h_2 | h_1) ... q(h_L | h_{L-1})``,
one factorial Bernoulli layer per latent layer, each a logistic regression on the layer below.

Binary latents cannot be reparameterized, which makes the SBN the hard case for gradient
estimators. With few latent bits the marginal is exact by enumeration: ``log_prob`` sums
``p(x, h)`` over all ``2^(H_1 + ... + H_L)`` joint states, in chunks.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F

from ..registry import MODELS
from ..validation import check_positive_ints
from .base import GenerativeModel

#: Above this many latent bits, exact enumeration is refused (2^20 states per data point).
MAX_ENUMERABLE_BITS = 20
# Joint latent states scored at once by log_prob; bounds memory at (chunk, batch) floats.
ENUMERATION_CHUNK = 8192


def all_binary_states(num_bits: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Every binary vector of length ``num_bits``, shape ``(2**num_bits, num_bits)``."""
    codes = torch.arange(2**num_bits, device=device)
    return ((codes[:, None] >> torch.arange(num_bits, device=device)) & 1).to(dtype)


@MODELS.register("sbn")
class SigmoidBeliefNet(GenerativeModel):
    """Sigmoid belief net: binary latent layers ``hidden`` (bottom first), recognition guide."""

    reference_setup = {"data": ("digits", {"binarize": "threshold"}), "model": {}, "fit": {}}
    example_options = {"hidden": [6, 4]}

    traceable = True  # no data-dependent control flow in model/guide

    likelihood = "bernoulli"
    # Discrete latents learn slowly at 1e-3: on binarized digits these defaults converge
    # (benchmarks/results/fit_defaults.md).
    default_lr = 0.01
    default_steps = 4000

    def __init__(self, data_dim: int, hidden: list[int] | tuple[int, ...] = (8,), *, name=None):
        super().__init__(data_dim, name=name)
        hidden = check_positive_ints(hidden, "hidden")
        self.hidden = hidden
        sizes = [data_dim] + hidden  # sizes[k] is the size of layer k (0 = data)
        # decoders[k] maps layer k+1 to the logits of layer k; encoders[k] maps k to k+1.
        self.decoders = torch.nn.ModuleList(
            torch.nn.Linear(sizes[k + 1], sizes[k]) for k in range(len(hidden))
        )
        self.encoders = torch.nn.ModuleList(
            torch.nn.Linear(sizes[k], sizes[k + 1]) for k in range(len(hidden))
        )
        self.top_logits = torch.nn.Parameter(torch.zeros(hidden[-1]))

    @property
    def latent_sites(self) -> list[str]:
        """Latent site names, bottom layer first: ``h1, ..., hL``."""
        return [f"h{k + 1}" for k in range(len(self.hidden))]

    @property
    def num_latent_bits(self) -> int:
        return sum(self.hidden)

    @property
    def has_exact_log_prob(self) -> bool:
        """Exact by enumeration only up to ``MAX_ENUMERABLE_BITS`` latent bits."""
        return self.num_latent_bits <= MAX_ENUMERABLE_BITS

    def model(self, x: torch.Tensor) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            h = pyro.sample(
                self.latent_sites[-1], dist.Bernoulli(logits=self.top_logits).to_event(1)
            )
            for k in reversed(range(1, len(self.hidden))):
                logits = self.decoders[k](h)  # (..., batch, H_k)
                h = pyro.sample(self.latent_sites[k - 1], dist.Bernoulli(logits=logits).to_event(1))
            logits = self.decoders[0](h)  # (..., batch, data_dim)
            pyro.sample(self.observed_site, dist.Bernoulli(logits=logits).to_event(1), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            h = x
            for site, encoder in zip(self.latent_sites, self.encoders):
                h = pyro.sample(site, dist.Bernoulli(logits=encoder(h)).to_event(1))

    # ----- exact quantities by enumeration ----------------------------------------------------
    def _log_prior(self, layers: list[torch.Tensor]) -> torch.Tensor:
        """``log p(h_1, ..., h_L)`` of joint states, one tensor per layer (bottom first)."""
        log_p = _bernoulli_log_prob(self.top_logits.expand_as(layers[-1]), layers[-1])
        for k in range(1, len(self.hidden)):
            log_p = log_p + _bernoulli_log_prob(self.decoders[k](layers[k]), layers[k - 1])
        return log_p

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(x)`` per data point by enumerating every joint latent state."""
        self.check_data(x, "x")
        bits = self.num_latent_bits
        if bits > MAX_ENUMERABLE_BITS:
            raise ValueError(
                f"exact log p(x) enumerates 2^{bits} latent states, above the limit of "
                f"2^{MAX_ENUMERABLE_BITS}; estimate it with ppgen.evaluation.log_likelihood"
            )
        states = all_binary_states(bits, device=x.device, dtype=x.dtype)
        total = None  # running logsumexp over states, (batch,)
        for chunk in states.split(ENUMERATION_CHUNK):
            layers = list(chunk.split(self.hidden, dim=-1))
            logits = self.decoders[0](layers[0])  # (chunk, data_dim)
            # log Bernoulli(x | logits) summed over pixels = x . logits - sum softplus(logits)
            log_lik = logits @ x.T - F.softplus(logits).sum(-1, keepdim=True)  # (chunk, batch)
            joint = self._log_prior(layers)[:, None] + log_lik
            part = torch.logsumexp(joint, dim=0)
            total = part if total is None else torch.logaddexp(total, part)
        return total

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}, hidden={self.hidden}"


def _bernoulli_log_prob(logits: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``sum_i log Bernoulli(value_i | logits_i)`` over the last dimension."""
    return (value * logits - F.softplus(logits)).sum(-1)
