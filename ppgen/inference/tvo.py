"""``tvo``: the thermodynamic variational objective (Masrani, Le & Wood 2019).

``log p(x) = integral_0^1 E_{pi_beta}[log w] d beta``, where ``pi_beta(z) ∝ q(z | x)^(1 - beta)
p(x, z)^beta`` runs from the guide (beta = 0) to the posterior (beta = 1) and ``log w = log p(x, z)
- log q(z | x)``. The integrand rises with beta, so a left Riemann sum over a partition
``0 = beta_0 < ... < beta_S = 1`` is a lower bound:

    TVO(x) = sum_{s<S} (beta_{s+1} - beta_s) E_{pi_beta_s}[log w],

each expectation estimated from the same K guide samples by self-normalized importance weights
``w_k^beta_s / sum_j w_j^beta_s``. With one partition (S = 1) it is the ELBO. The gradient is the
covariance gradient of the paper, for discrete and continuous guides alike (samples held
constant): ``sum_s Delta_s (E_pi[grad log w] + Cov_pi(log w, grad (log q + beta_s log w)))``
with the covariance's K/(K-1) correction. At beta = 0 that is leave-one-out REINFORCE (``rloo``).
The partition is ``linear`` (``beta_s = s / S``) or ``log`` (0, then S points log-uniform from
``10**log_beta_min`` to 1), the paper's two schedules.
"""

from __future__ import annotations

import torch

from ..program.importance import WeightParts
from ..registry import ESTIMATORS
from ..validation import check_positive_int, check_real
from .multi_sample import MultiSampleEstimator

SCHEDULES = ("log", "linear")


def partition(num_partitions: int, schedule: str, log_beta_min: float) -> torch.Tensor:
    """``beta_0..beta_S``, ``(S + 1,)``, from 0 to 1."""
    if num_partitions == 1:
        return torch.tensor([0.0, 1.0])
    if schedule == "linear":
        return torch.linspace(0.0, 1.0, num_partitions + 1)
    return torch.cat([torch.zeros(1), torch.logspace(log_beta_min, 0.0, num_partitions)])


def thermodynamic_curve(log_w: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
    """``E_{pi_beta}[log w]`` by self-normalized weights, ``(len(betas), batch)``, from
    ``log_w`` ``(K, batch)``."""
    heated = betas[:, None, None] * log_w  # (B, K, batch)
    weights = torch.softmax(heated, dim=1)
    return (weights * log_w).sum(1)


@ESTIMATORS.register(
    "tvo", description="thermodynamic variational objective, left Riemann sum (Masrani et al. 2019)"
)
class TVO(MultiSampleEstimator):
    """The TVO lower bound over ``num_partitions`` intervals with K samples per data point."""

    name = "tvo"
    detach_samples = True
    default_num_particles = 5
    min_num_particles = 2
    min_particles_reason = "the covariance gradient needs two samples"

    def __init__(
        self, num_particles: int | None = None, max_plate_nesting: int | None = None,
        num_partitions: int = 5, schedule: str = "log", log_beta_min: float = -2.0,
    ):  # fmt: skip
        super().__init__(num_particles, max_plate_nesting)
        check_positive_int(num_partitions, "num_partitions", allow_none=False)
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if check_real(log_beta_min, "log_beta_min") >= 0:
            raise ValueError(f"log_beta_min must be below 0, got {log_beta_min!r}")
        self.betas = partition(num_partitions, schedule, log_beta_min)

    def surrogate(self, parts: WeightParts) -> torch.Tensor:
        log_w, log_q = parts.log_w, parts.log_q  # (K, batch), differentiable in the parameters
        K = log_w.shape[0]
        betas = self.betas.to(log_w)
        starts, widths = betas[:-1], betas[1:] - betas[:-1]  # left Riemann sum
        signal = log_w.detach()
        weights = torch.softmax(starts[:, None, None] * signal, dim=1)  # (S, K, batch)
        expectation = (weights * log_w).sum(1)  # (S, batch): value E_pi[log w], grad E_pi[grad]
        heated = log_q + starts[:, None, None] * log_w  # log pi~_beta, (S, K, batch)
        centred_signal = signal - (weights * signal).sum(1, keepdim=True)
        centred_heated = heated - (weights * heated).sum(1, keepdim=True)
        covariance = K / (K - 1) * (weights * centred_signal * centred_heated).sum(1)
        per_partition = expectation + covariance - covariance.detach()
        return (widths[:, None] * per_partition).sum(0)

    def __repr__(self) -> str:
        return f"TVO(num_particles={self.num_particles}, partition={self.betas.tolist()})"
