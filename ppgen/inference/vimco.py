"""``vimco``: multi-sample score-function gradients with leave-one-out baselines
(Mnih & Rezende 2016), for guides with discrete latents.

For K samples per data point with ``L = log (1/K) sum_k w_k``, the gradient is

    sum_k (L - L_{-k}) grad log q(z_k | x)  +  sum_k w~_k grad log w_k,

where ``w~_k = w_k / sum_j w_j`` and ``L_{-k}`` replaces ``w_k`` by the geometric mean of the other
weights: a per-sample baseline that needs no learned parameters. The surrogate below has value ``L``
and that gradient; the score terms cover only the guide's non-reparameterized sites.
"""

from __future__ import annotations

import math

import torch

from ..program.importance import WeightParts
from ..registry import ESTIMATORS
from .multi_sample import MultiSampleEstimator


def leave_one_out_bounds(log_w: torch.Tensor) -> torch.Tensor:
    """``L_{-k}`` for every k, shape ``(K, batch)``, from ``log_w`` of shape ``(K, batch)``."""
    K = log_w.shape[0]
    others_mean = (log_w.sum(0, keepdim=True) - log_w) / (K - 1)  # (K, batch)
    # Row k holds log_w with entry k replaced by the geometric mean of the others: (K, K, batch).
    replaced = log_w.expand(K, K, -1).clone()
    index = torch.arange(K, device=log_w.device)
    replaced[index, index] = others_mean
    return torch.logsumexp(replaced, dim=1) - math.log(K)


@ESTIMATORS.register(
    "vimco", description="multi-sample score function, leave-one-out baselines (VIMCO)"
)
class VIMCO(MultiSampleEstimator):
    """VIMCO: the K-sample bound with leave-one-out control variates (K >= 2)."""

    name = "vimco"
    default_num_particles = 5
    min_num_particles = 2
    min_particles_reason = "leave-one-out baselines"

    def surrogate(self, parts: WeightParts) -> torch.Tensor:
        log_w = parts.log_w  # (K, batch)
        bound = self.bound(log_w)
        signal = (bound - leave_one_out_bounds(log_w)).detach()  # (K, batch)
        score = parts.log_q_score  # (K, batch), non-reparameterized guide sites only
        # Adds the score-function terms to the gradient without changing the value.
        return bound + (signal * (score - score.detach())).sum(0)
