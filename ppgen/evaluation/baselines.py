"""Reference log-likelihoods that any generative model of the data should beat.

- :func:`independent_bernoulli_log_lik`: every pixel an independent Bernoulli with its training
  frequency (Laplace-smoothed, so that a pixel never on in training does not give -inf on a test
  image where it is on). A VAE that does not beat it has learned nothing about how pixels co-vary.
"""

from __future__ import annotations

import torch

from ..validation import check_data


@torch.no_grad()
def independent_bernoulli_log_lik(
    train: torch.Tensor, x: torch.Tensor, smoothing: float = 1.0
) -> torch.Tensor:
    """``log p(x)`` per data point under independent Bernoulli pixels fitted to ``train``:
    ``p_i = (sum of pixel i + smoothing) / (num_train + 2 smoothing)``."""
    check_data(train, name="train", binary=True)
    check_data(x, name="x", event_dim=train.shape[1], binary=True, device=train.device)
    if not smoothing > 0:
        raise ValueError(f"smoothing must be positive, got {smoothing!r}")
    p = (train.sum(0) + smoothing) / (len(train) + 2 * smoothing)
    return (x * p.log() + (1 - x) * (-p).log1p()).sum(-1)
