"""``renyi``: the variational Rényi bound of Li & Turner (2016), per data point, for any alpha.

With K samples per data point and ``w_k = p(x, z_k) / q(z_k | x)``,

    L_alpha,K(x) = 1/(1 - alpha) log (1/K) sum_k w_k^(1 - alpha),

an estimate of ``L_alpha = log p(x) - D_alpha(q(z | x) || p(z | x))``: alpha = 0 is the IWAE
bound, alpha -> 1 the ELBO (alpha = 1 is taken as the ELBO itself), and for alpha < 0 the exact
``L_alpha`` lies above the evidence (its K-sample estimate approaches it from below as K grows,
Li & Turner's Theorem 2). Per data point where every site is local, as ``iwae`` is; Pyro's
``RenyiELBO`` weighs the whole batch's joint, which for local latents is not the per-point bound
(pyro-ppl/pyro #3104). Gradients are pathwise through reparameterized sites and add the
score-function term ``L * grad sum_k log q(z_k)`` for the others (no baseline; ``vimco`` is the
alpha = 0 bound with leave-one-out baselines).
"""

from __future__ import annotations

import torch

from ..program.importance import WeightParts
from ..registry import ESTIMATORS
from ..validation import check_real
from .multi_sample import MultiSampleEstimator


def renyi_bound(log_w: torch.Tensor, alpha: float) -> torch.Tensor:
    """``L_alpha,K`` per data point ``(batch,)`` from ``log_w`` ``(K, batch)``."""
    if alpha == 1.0:
        return log_w.mean(0)
    # log mean exp(a_k) as m + log1p(mean(expm1(a_k - m))): exact where (1 - alpha) log w is
    # tiny (alpha near 1), where logsumexp(a) - log K would lose every digit in float32. The
    # shift m is the largest a_k, so no expm1 overflows.
    scaled = (1.0 - alpha) * log_w  # (K, batch)
    shift = scaled.max(0).values.detach()
    log_mean = shift + torch.log1p(torch.expm1(scaled - shift).mean(0))
    return log_mean / (1.0 - alpha)


@ESTIMATORS.register(
    "renyi", description="variational Renyi bound for any alpha, per data point (Li & Turner 2016)"
)
class Renyi(MultiSampleEstimator):
    """The K-sample variational Rényi bound ``L_alpha,K``; ``alpha=0`` is ``iwae``."""

    name = "renyi"
    default_num_particles = 5

    def __init__(
        self, num_particles: int | None = None, max_plate_nesting: int | None = None,
        alpha: float = 0.5,
    ):  # fmt: skip
        super().__init__(num_particles, max_plate_nesting)
        self.alpha = check_real(alpha, "alpha")

    def surrogate(self, parts: WeightParts) -> torch.Tensor:
        if self.alpha == 1.0:  # the ELBO: per-sample score terms with their own signal
            score = parts.log_q_score
            signal = parts.log_w.detach()
            return (parts.log_w + signal * (score - score.detach())).mean(0)
        bound = renyi_bound(parts.log_w, self.alpha)  # (batch,)
        if parts.reparameterized:
            return bound
        score = parts.log_q_score.sum(0)  # (batch,)
        return bound + bound.detach() * (score - score.detach())

    def __repr__(self) -> str:
        return f"Renyi(num_particles={self.num_particles}, alpha={self.alpha})"
