"""``rws``: reweighted wake-sleep (Bornschein & Bengio 2015), per data point.

With K guide samples per data point, held constant (no reparameterized path), and normalized
weights ``w~_k = w_k / sum_j w_j``:

- wake-theta (model): ascend ``L_K = log (1/K) sum_k w_k``, i.e. ``sum_k w~_k grad log p(x, z_k)``;
- wake-phi (guide): ascend ``sum_k w~_k log q(z_k | x)``, a self-normalized importance-sampling
  estimate of ``-grad KL(p(z | x) || q(z | x))``.

The guide is not trained on the bound, so discrete latents need no score-function terms. This is
Pyro's ``ReweightedWakeSleep`` with ``insomnia=1`` (wake-phi only, no sleep-phi), but weighted per
data point: Pyro's implementation normalizes the weights of the whole batch's joint log density,
which for i.i.d. minibatches leaves effectively one particle. The loss value is ``-L_K``.
"""

from __future__ import annotations

import torch

from ..program.importance import WeightParts
from ..registry import ESTIMATORS
from .multi_sample import MultiSampleEstimator


@ESTIMATORS.register("rws", description="reweighted wake-sleep, wake-phi, per-datapoint weights")
class RWS(MultiSampleEstimator):
    """Reweighted wake-sleep with wake-phi guide updates, K particles per data point."""

    name = "rws"
    detach_samples = True
    default_num_particles = 5
    # One particle has normalized weight 1: the wake-phi update fits the guide to its own
    # draws and learns nothing about the posterior (held-out log p -5.4 against -2.8 for
    # the other estimators on a Gaussian mixture, issue 15).
    min_num_particles = 2
    min_particles_reason = "self-normalized importance weights"

    def surrogate(self, parts: WeightParts) -> torch.Tensor:
        # Guide parameters must not learn from the bound: hold log q constant in the weights.
        log_w = parts.log_p - parts.log_q.detach()  # (K, batch)
        bound = self.bound(log_w)  # wake-theta; its value is L_K
        weights = torch.softmax(log_w, dim=0).detach()
        wake_phi = (weights * parts.log_q).sum(0)
        return bound + wake_phi - wake_phi.detach()
