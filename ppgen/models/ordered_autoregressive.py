"""``OrderedAutoregressive``: the shared base of NADE, RNADE and MADE, and their ensembles.

An autoregressive density model factorises ``p(x) = prod_d p(x_{o_d} | x_{o_<d})`` along an
ordering ``o`` of the dimensions. NADE, RNADE and MADE differ only in how they compute the
conditionals; everything else lives here.

Ensembles as a Pyro program
---------------------------
A model with ``K > 1`` orderings (or, for MADE, masks) is the uniform mixture
``p(x) = (1/K) sum_k p_k(x)``: the choice ``k`` is a latent site (``choice_site``) in the data
plate, one choice per data point. Its guide is the prior, ``q(k | x) = 1/K``, so the ELBO that any
ppgen estimator maximises is ``E_k[log p_k(x)]``: exactly **order-agnostic training** (Uria et
al. 2014; Murray & Larochelle 2014) or, for MADE, order- and **connectivity-agnostic training**
(Germain et al. 2015) over the K choices. The **ensemble at test time** is the mixture itself, whose
``log_prob`` is exact (a log-sum-exp over the K members). A single ordering's density is
``member_log_prob``. ``K = 1`` has no latent site at all: the model is then fully observed like
a flow, its guide empty, and every ELBO equals ``log p(x)``.

Recipe for a subclass
---------------------
- ``member_conditionals(x)``: the parameters of every conditional of every member, in data
  order, each of shape ``(..., batch, K, data_dim, ...)`` for ``x`` of shape ``(..., batch, D)``.
  Conditional ``d`` of member ``k`` may depend only on the dimensions that come before ``d`` in
  that member's ordering (``tests/models/test_autoregressive.py`` checks it by autograd). All K
  members are computed in one vectorized pass and each point's member is picked out: K times the
  work of one member, but no per-point gather of weights, whose backward pass is slow.
- ``conditional_log_prob(params, x)``: ``log p(x_d | x_<d)`` per dimension, ``(..., batch, D)``.
- ``sample_conditionals(params)``: one draw of every dimension from its conditional, ``(N, D)``;
  the ancestral loop keeps only the dimension whose turn it is.
- ``orderings``: a ``(K, data_dim)`` long buffer, row ``k`` the order of member ``k``.
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from pyro.distributions.torch_distribution import TorchDistribution
from torch.distributions import constraints

from ..validation import check_positive_int
from .base import GenerativeModel

# Data points scored at once by log_prob: bounds its memory at (chunk, K, D, hidden) floats.
ROW_CHUNK = 128


def check_count(value, name: str) -> int:
    """``value`` as a positive int, refusing booleans and floats by name."""
    check_positive_int(value, name, allow_none=False)
    return value


def random_orderings(data_dim: int, count: int, seed: int) -> torch.Tensor:
    """``(count, data_dim)`` orderings: the natural order first, then seeded random permutations
    (seeded so that a clone, a checkpoint and a rebuilt model agree on them)."""
    generator = torch.Generator().manual_seed(seed)
    rows = [torch.arange(data_dim)]
    rows += [torch.randperm(data_dim, generator=generator) for _ in range(count - 1)]
    return torch.stack(rows)


class MemberDistribution(TorchDistribution):
    """``p_k(x)``: the observation distribution of one ensemble member per data point.

    ``index`` holds the member of each point (shape = the batch shape); ``log_prob`` and
    ``sample`` defer to the owning model, which computes the conditionals.
    """

    arg_constraints = {}

    def __init__(self, owner: OrderedAutoregressive, index: torch.Tensor, batch_shape):
        self.owner = owner
        self.index = index.expand(batch_shape)
        super().__init__(torch.Size(batch_shape), (owner.data_dim,), validate_args=False)

    @property
    def support(self):
        return self.owner.support

    def expand(self, batch_shape, _instance=None):
        return MemberDistribution(self.owner, self.index, torch.Size(batch_shape))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.owner.member_log_prob(value, self.index)

    def sample(self, sample_shape=()) -> torch.Tensor:
        index = self.index.expand(torch.Size(sample_shape) + self.batch_shape)
        return self.owner.ancestral_sample(index)


class OrderedAutoregressive(GenerativeModel):
    """Base class of autoregressive density models over K orderings (see the module docstring)."""

    #: The latent site that picks an ensemble member when there are several.
    choice_site = "ordering"
    traceable = True  # the member choice is a sample site, not Python control flow

    def _init_orderings(self, orderings: torch.Tensor) -> None:
        self.register_buffer("orderings", orderings.long())  # (K, data_dim)
        # inverse_orderings[k, d]: the position of dimension d in member k's ordering.
        self.register_buffer("inverse_orderings", torch.argsort(self.orderings, -1))

    @property
    def ensemble_size(self) -> int:
        """K: the number of orderings (or masks) in the ensemble."""
        return self.orderings.shape[0]

    @property
    def support(self):
        raise NotImplementedError

    # ----- what a subclass provides -------------------------------------------------------------
    def member_conditionals(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def conditional_log_prob(self, params: tuple, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sample_conditionals(self, params: tuple) -> torch.Tensor:
        raise NotImplementedError

    # ----- the Pyro programs --------------------------------------------------------------------
    def _choice_prior(self, x: torch.Tensor) -> dist.Categorical:
        return dist.Categorical(logits=x.new_zeros(self.ensemble_size))

    def model(self, x: torch.Tensor) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            if self.ensemble_size > 1:
                index = pyro.sample(self.choice_site, self._choice_prior(x))  # (..., batch)
            else:
                index = torch.zeros(x.shape[:-1], dtype=torch.long, device=x.device)
            batch_shape = torch.broadcast_shapes(index.shape, x.shape[:-1])
            pyro.sample(self.observed_site, MemberDistribution(self, index, batch_shape), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        """The prior over members: the ELBO is then the order-agnostic objective
        ``E_k[log p_k(x)]``; with one member there is nothing to infer."""
        if self.ensemble_size > 1:
            with pyro.plate(self.data_plate, x.shape[0], dim=-1):
                pyro.sample(self.choice_site, self._choice_prior(x))

    def marginal_model(self, x: torch.Tensor) -> None:
        """The model with the member summed out: ``x`` observed under the exact mixture."""
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            pyro.sample(self.observed_site, _Ensemble(self, x.shape[:-1]), obs=x)

    def conditionals(self, x: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The conditionals' parameters under each point's member ``index`` (a long tensor
        broadcasting with ``x``'s batch shape), each ``(..., batch, D, ...)`` in data order."""
        batch_dims = x.dim() - 1
        return tuple(_pick_member(p, index, batch_dims) for p in self.member_conditionals(x))

    # ----- exact densities ----------------------------------------------------------------------
    def member_log_prob(self, x: torch.Tensor, index) -> torch.Tensor:
        """``log p_k(x)`` per data point under member ``index`` (an int or a long tensor
        broadcasting with the batch shape), ``(..., batch)``."""
        if isinstance(index, int):
            if not 0 <= index < self.ensemble_size:
                raise ValueError(
                    f"member {index} does not exist: this model has {self.ensemble_size}"
                )
            index = torch.full(x.shape[:-1], index, dtype=torch.long, device=x.device)
        params = self.conditionals(x, index)
        return self.conditional_log_prob(params, x).sum(-1)

    def member_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """``log p_k(x)`` for every member, ``(K, batch)``; a few hundred points at a time."""
        self.check_data(x, "x")
        rows = []
        for chunk in x.split(ROW_CHUNK):
            params = self.member_conditionals(chunk)  # each (chunk, K, D, ...)
            rows.append(self.conditional_log_prob(params, chunk.unsqueeze(-2)).sum(-1))
        return torch.cat(rows).T

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(x)`` of the ensemble, ``log (1/K) sum_k p_k(x)``, per data point."""
        return torch.logsumexp(self.member_log_probs(x), 0) - math.log(self.ensemble_size)

    # ----- sampling -----------------------------------------------------------------------------
    @torch.no_grad()
    def ancestral_sample(self, index: torch.Tensor) -> torch.Tensor:
        """One draw per entry of ``index`` (each from its member), ``index.shape + (D,)``.

        Dimension by dimension in each row's own ordering: step ``t`` recomputes the conditionals
        on the values drawn so far and keeps the draw of the dimension ``o_t``. ``D`` passes of
        the network; correct for any subclass whose conditionals respect the ordering.
        """
        flat = index.reshape(-1)  # (N,)
        order = self.orderings[flat]  # (N, D)
        x = torch.zeros(flat.shape + (self.data_dim,), device=self.device, dtype=self.dtype)
        for step in range(self.data_dim):
            draw = self.sample_conditionals(self.conditionals(x, flat))  # (N, D)
            column = order[:, step : step + 1]  # (N, 1)
            x.scatter_(-1, column, draw.gather(-1, column))
        return x.reshape(index.shape + (self.data_dim,))


class BinaryConditionals:
    """Bernoulli conditionals from logits ``(..., D)``: the part NADE and MADE share."""

    @property
    def support(self):
        return constraints.independent(constraints.boolean, 1)

    def conditional_log_prob(self, params, x: torch.Tensor) -> torch.Tensor:
        (logits,) = params
        return -F.binary_cross_entropy_with_logits(logits, x.expand(logits.shape), reduction="none")

    def sample_conditionals(self, params) -> torch.Tensor:
        (logits,) = params
        return torch.bernoulli(torch.sigmoid(logits))


def _pick_member(param: torch.Tensor, index: torch.Tensor, batch_dims: int) -> torch.Tensor:
    """``param[..., index, ...]`` along the member axis ``batch_dims``: ``param`` of shape
    ``(*batch, K, *rest)``, ``index`` broadcasting with ``batch`` -> ``(*broadcast, *rest)``."""
    rest = param.shape[batch_dims + 1 :]
    batch_shape = torch.broadcast_shapes(param.shape[:batch_dims], index.shape)
    param = param.expand(batch_shape + param.shape[batch_dims:])
    index = index.expand(batch_shape).reshape(batch_shape + (1,) * (len(rest) + 1))
    index = index.expand(batch_shape + (1,) + rest)
    return param.gather(len(batch_shape), index).squeeze(len(batch_shape))


class _Ensemble(TorchDistribution):
    """The exact mixture ``(1/K) sum_k p_k(x)`` as a distribution (for ``marginal_model``)."""

    arg_constraints = {}

    def __init__(self, owner: OrderedAutoregressive, batch_shape):
        self.owner = owner
        super().__init__(torch.Size(batch_shape), (owner.data_dim,), validate_args=False)

    @property
    def support(self):
        return self.owner.support

    def expand(self, batch_shape, _instance=None):
        return _Ensemble(self.owner, torch.Size(batch_shape))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        flat = value.reshape(-1, self.owner.data_dim)
        log_p = torch.logsumexp(self.owner.member_log_probs(flat), 0)
        return (log_p - math.log(self.owner.ensemble_size)).reshape(value.shape[:-1])

    def sample(self, sample_shape=()) -> torch.Tensor:
        shape = torch.Size(sample_shape) + self.batch_shape
        index = torch.randint(self.owner.ensemble_size, shape, device=self.owner.device)
        return self.owner.ancestral_sample(index)
