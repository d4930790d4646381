"""Parameter-free and elementwise flow layers that Pyro does not ship as device-aware modules.

- :class:`Permutation`: a fixed reordering of coordinates between coupling or autoregressive
  layers. Pyro's ``Permute`` keeps its permutation as a plain attribute, which ``.to(device)`` does
  not move; here it is a registered buffer, so a flow moves to CUDA with its model.
- :class:`ActNorm`: a learnable elementwise affine map initialised from data so that the flow's
  input starts standardized (Kingma & Dhariwal 2018). Without it, the spline layers' bounded
  interval and the coupling nets' initial scale would depend on the units of the data.
"""

from __future__ import annotations

import torch
from pyro.distributions.torch_transform import TransformModule
from torch.distributions import constraints


class Permutation(TransformModule):
    """``y = x[..., permutation]``; volume preserving."""

    domain = constraints.independent(constraints.real, 1)
    codomain = constraints.independent(constraints.real, 1)
    bijective = True
    volume_preserving = True

    def __init__(self, permutation: torch.Tensor):
        super().__init__(cache_size=1)
        self.register_buffer("permutation", permutation.long())
        self.register_buffer("inverse_permutation", torch.argsort(permutation.long()))

    def _call(self, x):
        return x[..., self.permutation]

    def _inverse(self, y):
        return y[..., self.inverse_permutation]

    def log_abs_det_jacobian(self, x, y):
        return x.new_zeros(x.shape[:-1])


def reverse(dim: int) -> Permutation:
    """The permutation that reverses the coordinates: alternates which half a coupling updates."""
    return Permutation(torch.arange(dim - 1, -1, -1))


class ActNorm(TransformModule):
    """``y = loc + exp(log_scale) * x`` elementwise, with learnable ``loc`` and ``log_scale``.

    Placed first in a density model's flow (nearest the data, in sampling direction last), it maps
    standardized variables to the data's scale; :meth:`init_from_data` sets it to the data's mean
    and standard deviation.
    """

    domain = constraints.independent(constraints.real, 1)
    codomain = constraints.independent(constraints.real, 1)
    bijective = True

    def __init__(self, dim: int):
        super().__init__(cache_size=1)
        self.loc = torch.nn.Parameter(torch.zeros(dim))
        self.log_scale = torch.nn.Parameter(torch.zeros(dim))

    def _call(self, x):
        return self.loc + self.log_scale.exp() * x

    def _inverse(self, y):
        return (y - self.loc) * torch.exp(-self.log_scale)

    def log_abs_det_jacobian(self, x, y):
        return self.log_scale.expand(x.shape).sum(-1)

    @torch.no_grad()
    def init_from_data(self, y: torch.Tensor) -> None:
        """Set the map so that the data, pulled back through it, has zero mean and unit variance."""
        self.loc.copy_(y.mean(0))
        self.log_scale.copy_(y.std(0).clamp_min(1e-6).log())
