"""A mixture of independent Bernoullis fitted by EM: the classic reference density for binary
images, and the bar that an autoregressive model (NADE, MADE) must clear.

``p(x) = sum_k pi_k prod_d mu_kd^x_d (1 - mu_kd)^(1 - x_d)``. EM alternates responsibilities (E)
and weighted frequencies (M). The M step is a MAP estimate under a Beta(1 + smoothing, 1 +
smoothing) prior on every ``mu_kd`` and a Dirichlet(1 + smoothing) prior on ``pi``, so that a
pixel that is never on in a component's training points does not give ``-inf`` on a held-out
image where it is on (the same Laplace smoothing as :func:`independent_bernoulli_log_lik`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..validation import check_data


@dataclass
class BernoulliMixture:
    """A fitted mixture: ``weights`` ``(K,)``, ``probs`` ``(K, D)``, and the EM trace."""

    weights: torch.Tensor
    probs: torch.Tensor
    train_log_lik: list[float]  # mean log p(x) on the training data after each EM iteration

    @property
    def num_parameters(self) -> int:
        """Free parameters: ``K - 1`` weights and ``K D`` pixel probabilities."""
        return self.weights.numel() - 1 + self.probs.numel()

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)`` per data point, ``(batch,)``."""
        check_data(
            x, name="x", event_dim=self.probs.shape[1], binary=True, device=self.probs.device
        )
        return torch.logsumexp(self._joint(x), -1)

    def _joint(self, x: torch.Tensor) -> torch.Tensor:
        """``log pi_k + log p(x | k)``, ``(batch, K)``."""
        log_on, log_off = self.probs.log(), (-self.probs).log1p()  # (K, D)
        return self.weights.log() + x @ log_on.T + (1 - x) @ log_off.T


@torch.no_grad()
def fit_bernoulli_mixture(
    train: torch.Tensor,
    num_components: int,
    *,
    max_iterations: int = 500,
    tolerance: float = 1e-6,
    smoothing: float = 1.0,
    seed: int = 0,
) -> BernoulliMixture:
    """EM for a mixture of ``num_components`` independent-Bernoulli components.

    Starts from random responsibilities (seeded) and stops when the mean training log-likelihood
    gains less than ``tolerance`` nats in an iteration (EM never decreases the MAP objective).
    """
    check_data(train, name="train", binary=True)
    if isinstance(num_components, bool) or not isinstance(num_components, int):
        raise TypeError(f"num_components must be an int, got {num_components!r}")
    if not 1 <= num_components <= len(train):
        raise ValueError(f"num_components must be in [1, {len(train)}], got {num_components}")
    if not smoothing > 0:
        raise ValueError(f"smoothing must be positive, got {smoothing!r}")
    generator = torch.Generator().manual_seed(seed)
    responsibilities = torch.rand(len(train), num_components, generator=generator)
    responsibilities = (responsibilities / responsibilities.sum(-1, keepdim=True)).to(train)
    mixture, history = None, []
    for _ in range(max_iterations):
        counts = responsibilities.sum(0)  # (K,)
        probs = (responsibilities.T @ train + smoothing) / (counts[:, None] + 2 * smoothing)
        weights = (counts + smoothing) / (len(train) + num_components * smoothing)
        mixture = BernoulliMixture(weights, probs, history)
        joint = mixture._joint(train)  # (N, K)
        log_lik = torch.logsumexp(joint, -1)
        history.append(float(log_lik.mean()))
        responsibilities = (joint - log_lik[:, None]).exp()
        if len(history) > 1 and history[-1] - history[-2] < tolerance:
            break
    return mixture
