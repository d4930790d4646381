"""``rloo``: REINFORCE with leave-one-out baselines (Kool, van Hoof & Welling 2019), for the ELBO.

With K samples per data point and learning signals ``f_k = log p(x, z_k) - log q(z_k | x)``, each
sample's baseline is the mean of the others' signals:

    grad ELBO ~ (1/K) sum_k (f_k - (1/(K-1)) sum_{j != k} f_j) grad log q(z_k | x)
                + (1/K) sum_k (pathwise gradient of f_k).

The baseline of sample k does not depend on z_k, so the estimate stays unbiased for the gradient of
the ELBO (not of a K-sample bound: ``vimco`` is that bound's leave-one-out counterpart). The score
terms cover only the guide's non-reparameterized sites; reparameterized ones keep their pathwise
gradient. The value is the K-sample mean of the ELBO.
"""

from __future__ import annotations

import torch

from ..program.importance import WeightParts
from ..registry import ESTIMATORS
from .multi_sample import MultiSampleEstimator


def leave_one_out_signals(log_w: torch.Tensor) -> torch.Tensor:
    """``f_k - mean_{j != k} f_j`` for every k, ``(K, batch)``, from ``log_w`` ``(K, batch)``."""
    K = log_w.shape[0]
    others = (log_w.sum(0, keepdim=True) - log_w) / (K - 1)
    return log_w - others


def pathwise_elbo(parts: WeightParts) -> torch.Tensor:
    """``log p - log q`` per sample ``(K, batch)`` with the score-function sites' ``log q`` held
    constant: its direct gradient has zero mean and only adds variance (as in Pyro's
    ``Trace_ELBO``); its value is the ELBO's."""
    score = parts.log_q_score
    return parts.log_p - (parts.log_q - score) - score.detach()


@ESTIMATORS.register(
    "rloo", description="REINFORCE with leave-one-out baselines over K samples, for the ELBO"
)
class RLOO(MultiSampleEstimator):
    """Leave-one-out REINFORCE for the ELBO with K >= 2 samples per data point."""

    name = "rloo"
    default_num_particles = 4
    min_num_particles = 2
    min_particles_reason = "each sample's baseline is the others' mean"

    def surrogate(self, parts: WeightParts) -> torch.Tensor:
        signal = leave_one_out_signals(parts.log_w.detach())  # (K, batch)
        score = parts.log_q_score
        reinforce = (signal * (score - score.detach())).mean(0)  # value 0
        return pathwise_elbo(parts).mean(0) + reinforce
