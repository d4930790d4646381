"""``realnvp``: affine coupling layers with alternating halves (Dinh et al. 2017).

Each layer leaves one half of the coordinates unchanged and scales and shifts the other half by
functions of the first: ``y_B = x_B * exp(s(x_A)) + t(x_A)``. Both directions and the
log-determinant ``sum s(x_A)`` cost one network pass, so sampling and density evaluation are equally
fast. A reversal of the coordinates between layers makes consecutive layers update alternating
halves.
"""

from __future__ import annotations

from pyro.distributions.transforms import affine_coupling

from ...registry import FLOWS
from .flow import Flow
from .layers import reverse


def build(dim: int, num_layers: int, hidden_dims: list[int]) -> Flow:
    if dim < 2:
        raise ValueError("a coupling flow needs at least 2 coordinates; use 'maf' or 'nsf-ar'")
    layers = []
    for k in range(num_layers):
        if k:
            layers.append(reverse(dim))
        layers.append(affine_coupling(dim, hidden_dims=hidden_dims, split_dim=dim // 2))
    return Flow(dim, layers)


FLOWS.register(
    "realnvp", build, description="affine coupling, alternating halves (RealNVP, Dinh et al. 2017)"
)
