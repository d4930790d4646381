"""An autoregressive likelihood for a VAE: ``p(x | z) = prod_d p(x_d | x_<d, z)`` by a MADE that
also reads the decoder's output (Pyro's ``ConditionalAutoRegressiveNN``, Germain et al. 2015 with
the context input of Paige & Wood 2016).

A decoder that models the pixels' dependencies itself needs the latent code less: the known risk is
that the VAE learns to ignore ``z`` (posterior collapse, Bowman et al. 2016; Chen et al. 2017),
which ``ppgen.evaluation.active_units`` measures. ``VAE(..., autoregressive_decoder=[H])`` uses
it; tutorial 10 measures the collapse.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.nn import ConditionalAutoRegressiveNN
from torch.distributions import constraints


def conditional_made(data_dim: int, context_dim: int, hidden_dims) -> ConditionalAutoRegressiveNN:
    """Pyro's conditional MADE with one logit per pixel, in the natural order, with skip
    connections from the inputs (hidden layers must be at least ``data_dim`` wide)."""
    hidden_dims = [int(h) for h in hidden_dims]
    if not hidden_dims or min(hidden_dims) < data_dim:
        raise ValueError(
            f"autoregressive_decoder needs hidden layers at least data_dim = {data_dim} wide "
            f"(a MADE connects every output through them), got {hidden_dims}"
        )
    return ConditionalAutoRegressiveNN(
        data_dim, context_dim, hidden_dims, param_dims=[1],
        permutation=torch.arange(data_dim), skip_connections=True,
    )  # fmt: skip


class AutoregressiveBernoulli(TorchDistribution):
    """Binary vectors with ``p(x_d = 1 | x_<d, context) = sigmoid(network(x, context)_d)``.

    ``context`` ``(..., C)`` sets the batch shape; ``log_prob`` is one pass of the network,
    ``sample`` D passes (ancestral, in the network's order).
    """

    arg_constraints = {}
    support = constraints.independent(constraints.boolean, 1)

    def __init__(self, network: ConditionalAutoRegressiveNN, context: torch.Tensor):
        self.network, self.context = network, context
        super().__init__(context.shape[:-1], (network.input_dim,), validate_args=False)

    def expand(self, batch_shape, _instance=None):
        context = self.context.expand(torch.Size(batch_shape) + self.context.shape[-1:])
        return AutoregressiveBernoulli(self.network, context)

    def logits(self, value: torch.Tensor) -> torch.Tensor:
        """The conditionals' logits at ``value``, ``(..., D)`` over the broadcast batch shape."""
        shape = torch.broadcast_shapes(value.shape[:-1], self.context.shape[:-1])
        value = value.expand(shape + value.shape[-1:])
        return self.network(value, self.context.expand(shape + self.context.shape[-1:]))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        logits = self.logits(value)
        value = value.expand(logits.shape)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none").sum(-1)

    @torch.no_grad()
    def sample(self, sample_shape=()) -> torch.Tensor:
        shape = torch.Size(sample_shape) + self.batch_shape + self.event_shape
        x = self.context.new_zeros(shape)
        for d in self.network.permutation.tolist():
            draw = torch.bernoulli(torch.sigmoid(self.logits(x)[..., d]))
            x[..., d] = draw
        return x

    @property
    def mean(self):
        raise NotImplementedError(
            "an autoregressive likelihood has no closed-form mean: draw samples, or see "
            "VAE.decode (the conditionals' probabilities along one draw)"
        )
