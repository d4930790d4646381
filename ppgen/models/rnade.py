"""RNADE (Uria, Murray & Larochelle 2013): NADE for real-valued data, mixture-of-Gaussians
conditionals.

Along an ordering ``o`` the hidden layer is NADE's running sum, with ReLU units as in the paper::

    h_d = relu(c + W[:, o_<d] x_{o_<d})                               (H hidden units)
    p(x_{o_d} | x_{o_<d}) = sum_c pi_dc N(x_{o_d}; mu_dc, sigma_dc)   (C components)

where the mixture weights, means and log-scales of conditional ``d`` are linear in ``h_d`` with
their own weights per dimension. The density is exact (a product of one-dimensional mixtures), so
``log_prob`` is exact and bits per dimension on dequantized data are directly comparable with a
flow's. Several orderings make an ensemble, see :mod:`ppgen.models.ordered_autoregressive`; as
in NADE, an ensemble's hidden layer is also given the input mask (``mask_inputs``, on by default
for ensembles; see :mod:`ppgen.models.nade`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributions import constraints

from ..registry import MODELS
from .nade import hidden_pre_activation, resolve_mask_inputs
from .ordered_autoregressive import OrderedAutoregressive, check_count, random_orderings

# Lower bound on a component's scale: keeps a component from collapsing onto one training value.
MIN_SCALE = 1e-3


@MODELS.register("rnade")
class RNADE(OrderedAutoregressive):
    """RNADE for real-valued data: mixture-of-Gaussians conditionals, exact log p(x)."""

    reference_setup = {"data": ("moons", {}), "model": {}, "fit": {}}
    example_options = {}

    likelihood = "density"
    # A Gaussian component can shrink onto a constant column: its density grows without bound.
    constant_columns_unbounded = True
    # The budget of benchmarks/digits_reference.py (results there); fit's convergence check
    # passes at it on seeds 0 and 1 (benchmarks/results/fit_defaults.md).
    default_lr = 3e-3
    default_steps = 2000

    def __init__(
        self,
        data_dim: int,
        hidden_dim: int = 100,
        num_components: int = 5,
        num_orderings: int = 1,
        ordering_seed: int = 0,
        mask_inputs: bool | None = None,
        *,
        name: str | None = None,
    ):
        super().__init__(data_dim, name=name)
        self.hidden_dim = check_count(hidden_dim, "hidden_dim")
        self.num_mixture = check_count(num_components, "num_components")
        check_count(num_orderings, "num_orderings")
        self._init_orderings(random_orderings(data_dim, num_orderings, ordering_seed))
        self.W = torch.nn.Parameter(torch.randn(hidden_dim, data_dim) / data_dim**0.5)  # (H, D)
        self.c = torch.nn.Parameter(torch.zeros(hidden_dim))
        # One head per dimension: weights, means and log-scales of its C components.
        heads = torch.randn(data_dim, hidden_dim, 3 * num_components) / hidden_dim**0.5
        self.V = torch.nn.Parameter(heads)  # (D, H, 3C)
        self.b = torch.nn.Parameter(torch.zeros(data_dim, 3 * num_components))  # (D, 3C)
        self.mask_inputs = resolve_mask_inputs(mask_inputs, num_orderings)  # see ppgen.models.nade
        if self.mask_inputs:
            self.U = torch.nn.Parameter(torch.zeros(hidden_dim, data_dim))  # (H, D)

    @property
    def support(self):
        return constraints.independent(constraints.real, 1)

    def member_conditionals(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Mixture logits, means and scales of every conditional of every member, in data order,
        each ``(..., batch, K, D, C)``."""
        order = self.orderings  # (K, D)
        mask_weights = self.U if self.mask_inputs else None
        hidden = F.relu(hidden_pre_activation(x, order, self.W, self.c, mask_weights))
        heads = torch.einsum("...kdh,kdhc->...kdc", hidden, self.V[order]) + self.b[order]
        # Back to data order: row d of the output belongs to dimension d.
        inverse = self.inverse_orderings[..., None].expand(heads.shape)
        logits, loc, raw_scale = heads.gather(-2, inverse).split(self.num_mixture, -1)
        return logits, loc, F.softplus(raw_scale) + MIN_SCALE

    def conditional_log_prob(self, params, x: torch.Tensor) -> torch.Tensor:
        logits, loc, scale = params
        log_weights = logits.log_softmax(-1)
        component = torch.distributions.Normal(loc, scale).log_prob(x.unsqueeze(-1))
        return torch.logsumexp(log_weights + component, -1)  # (..., batch, D)

    def sample_conditionals(self, params) -> torch.Tensor:
        logits, loc, scale = params
        which = torch.distributions.Categorical(logits=logits).sample().unsqueeze(-1)
        return torch.normal(loc.gather(-1, which), scale.gather(-1, which)).squeeze(-1)

    def init_from_data(self, x: torch.Tensor) -> RNADE:
        """Component means spread over each dimension's quantiles and scales at its spread, so
        that training starts near a per-dimension mixture fit."""
        self.check_data(x, "x")
        with torch.no_grad():
            levels = (torch.arange(self.num_mixture, dtype=x.dtype) + 0.5) / self.num_mixture
            quantiles = torch.quantile(x, levels.to(x.device), dim=0).T  # (D, C)
            spread = x.std(0).clamp_min(MIN_SCALE)[:, None] / self.num_mixture  # (D, 1)
            bias = self.b.view(self.data_dim, 3, self.num_mixture)
            bias[:, 0] = 0.0
            bias[:, 1] = quantiles
            bias[:, 2] = torch.log(torch.expm1(spread.expand(-1, self.num_mixture)))
        return self

    def extra_repr(self) -> str:
        return (
            f"data_dim={self.data_dim}, hidden_dim={self.hidden_dim}, "
            f"num_components={self.num_mixture}, num_orderings={self.ensemble_size}, "
            f"mask_inputs={self.mask_inputs}"
        )
