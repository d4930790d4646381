"""Affine autoregressive flows: ``maf`` (Papamakarios et al. 2017) and ``iaf`` (Kingma et al. 2016).

One Pyro ``AffineAutoregressive`` layer maps ``x_i = mu_i(x_<i) + sigma_i(x_<i) * u_i`` through a
MADE network. Its two directions differ in cost: data to noise is one network pass, noise to data
is ``dim`` sequential passes. MAF uses the layer so that density evaluation is the fast direction
(what a density model trained by maximum likelihood needs); IAF the other way round, so that
sampling and scoring its own samples are fast (what a guide needs). Consecutive layers reverse the
autoregressive order.

:func:`conditional_iaf` builds the IAF posterior of a VAE: each layer's MADE also reads a context
vector computed from ``x`` by the encoder, and uses the numerically stable gated update
``z = sigma * z + (1 - sigma) * m`` of Kingma et al. (2016).
"""

from __future__ import annotations

import torch
from pyro.distributions.transforms import AffineAutoregressive, ConditionalAffineAutoregressive
from pyro.nn import AutoRegressiveNN, ConditionalAutoRegressiveNN

from ...registry import FLOWS
from .flow import Flow


def autoregressive_order(dim: int, layer: int) -> torch.Tensor:
    """Identity order for even layers, reversed for odd ones."""
    order = torch.arange(dim)
    return order if layer % 2 == 0 else order.flip(0)


def _layers(dim: int, num_layers: int, hidden_dims: list[int], stable: bool = False):
    return [
        AffineAutoregressive(
            AutoRegressiveNN(dim, hidden_dims, permutation=autoregressive_order(dim, k)),
            stable=stable,
        )
        for k in range(num_layers)
    ]


def build_maf(dim: int, num_layers: int, hidden_dims: list[int]) -> Flow:
    layers = _layers(dim, num_layers, hidden_dims)
    return Flow(dim, layers, inverted=[True] * num_layers)


def build_iaf(dim: int, num_layers: int, hidden_dims: list[int], stable: bool = True) -> Flow:
    return Flow(dim, _layers(dim, num_layers, hidden_dims, stable=stable))


class ConditionalFlow(torch.nn.Module):
    """Conditional IAF layers; :meth:`transforms` binds them to a context ``(..., context_dim)``."""

    def __init__(self, dim: int, context_dim: int, num_layers: int, hidden_dims: list[int]):
        super().__init__()
        self.dim = dim
        self.layers = torch.nn.ModuleList(
            ConditionalAffineAutoregressive(
                ConditionalAutoRegressiveNN(
                    dim, context_dim, hidden_dims, permutation=autoregressive_order(dim, k)
                ),
                stable=True,
            )
            for k in range(num_layers)
        )

    def transforms(self, context: torch.Tensor) -> list:
        return [layer.condition(context) for layer in self.layers]


def conditional_iaf(
    dim: int, context_dim: int, num_layers: int = 2, hidden_dims: list[int] | None = None
) -> ConditionalFlow:
    """An IAF over ``dim`` coordinates whose every layer also reads a context vector."""
    return ConditionalFlow(dim, context_dim, num_layers, hidden_dims or [max(64, 4 * dim)])


FLOWS.register(
    "maf", build_maf, description="masked autoregressive flow, fast density (Papamakarios 2017)"
)
FLOWS.register(
    "iaf", build_iaf, description="inverse autoregressive flow, fast sampling (Kingma et al. 2016)"
)
