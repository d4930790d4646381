"""``iwae``: the importance-weighted bound of Burda et al. (2016) with K particles.

``L_K(x) = E[log (1/K) sum_k w_k]``, ``w_k = p(x, z_k) / q(z_k | x)``, computed per data point and
differentiated through reparameterized samples. ``L_1`` is the ELBO; ``L_K`` increases with K
towards ``log p(x)``. For guide sites that do not reparameterize (discrete latents) the gradient
adds the score-function term ``L_K grad sum_k log q(z_k)``, unbiased but without a baseline;
``vimco`` is the same bound with leave-one-out baselines, ``dreg`` needs reparameterized sites.
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

    def surrogate(self, parts: WeightParts) -> torch.Tensor:
        bound = self.bound(parts.log_w)  # (batch,): the pathwise part where sites reparameterize
        if parts.reparameterized:
            return bound
        # Non-reparameterized (discrete) guide sites: the score-function term of the bound,
        # L_K * grad sum_k log q(z_k), unbiased and without baseline (VIMCO is the same bound
        # with leave-one-out baselines); its value is zero.
        score = parts.log_q_score.sum(0)  # (batch,)
        return bound + bound.detach() * (score - score.detach())
