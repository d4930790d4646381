"""``iwae``: the importance-weighted bound of Burda et al. (2016) with K particles.

``L_K(x) = E[log (1/K) sum_k w_k]``, ``w_k = p(x, z_k) / q(z_k | x)``, computed per data point and
differentiated through reparameterized samples. ``L_1`` is the ELBO; ``L_K`` increases with K
towards ``log p(x)``. Guides with non-reparameterizable (discrete) sites need ``vimco`` instead.
"""

from __future__ import annotations

import torch

from ..program.importance import WeightParts
from ..registry import ESTIMATORS
from .multi_sample import MultiSampleEstimator


@ESTIMATORS.register(
    "iwae", description="importance-weighted bound, K particles (Burda et al. 2016)"
)
class IWAE(MultiSampleEstimator):
    """The K-sample importance-weighted bound with reparameterized gradients."""

    name = "iwae"
    needs_reparameterized = True

    def surrogate(self, parts: WeightParts) -> torch.Tensor:
        return self.bound(parts.log_w)
