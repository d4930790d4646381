"""Held-out log-likelihood under a Gaussian kernel density estimate of a model's samples (the
Parzen-window score of Goodfellow et al. 2014), for models without a likelihood.

``log p_kde(x) = logsumexp_i log N(x; s_i, h^2 I) - log n`` over samples ``s_1..s_n``. It is a
*relative* score: biased, and unreliable beyond a few dimensions (Theis et al. 2016), so compare
models with the same number of samples and bandwidth, on low-dimensional data. The bandwidth is a
number, Scott's rule (``n^(-1/(d+4))`` times the samples' mean standard deviation), or chosen
from candidates by the mean log-likelihood of separate ``validation`` points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..validation import check_data

#: torch.cdist without the |x|^2 + |y|^2 - 2xy shortcut, which is inexact for small distances.
EXACT = "donot_use_mm_for_euclid_dist"

#: Evaluation points per block: memory is this many rows times the number of samples.
CHUNK = 1024


def scott_bandwidth(samples: torch.Tensor) -> float:
    """Scott's rule for an isotropic kernel: ``n^(-1/(d+4))`` times the mean per-axis std."""
    n, d = samples.shape
    return float(samples.std(0).mean()) * n ** (-1 / (d + 4))


def kde_log_likelihood(
    samples: torch.Tensor,
    x: torch.Tensor,
    bandwidth: float | str | Sequence[float] = "scott",
    validation: torch.Tensor | None = None,
) -> torch.Tensor:
    """``log p_kde(x)`` per row of ``x`` under the KDE of ``samples``, shape ``(len(x),)``.

    Args:
        samples: model samples ``(n, d)``, n >= 2.
        x: evaluation points ``(m, d)`` (held-out data).
        bandwidth: a positive number, ``"scott"``, or candidate numbers (then ``validation``
            must be given and the candidate with the best mean log-likelihood there is used).
        validation: points for choosing among candidate bandwidths, never the evaluated ``x``.
    """
    samples = check_data(samples, name="samples")
    if len(samples) < 2:
        raise ValueError("a kernel density estimate needs at least 2 samples")
    x = check_data(
        x, name="x", event_dim=samples.shape[1], dtype=samples.dtype, device=samples.device
    )
    if isinstance(bandwidth, str):
        if bandwidth != "scott":
            raise ValueError(
                f"bandwidth must be a number, 'scott' or candidates, got {bandwidth!r}"
            )
        bandwidth = scott_bandwidth(samples)
    elif isinstance(bandwidth, Sequence):
        if validation is None:
            raise ValueError("candidate bandwidths need validation= points to choose among them")
        validation = check_data(
            validation,
            name="validation",
            event_dim=samples.shape[1],
            dtype=samples.dtype,
            device=samples.device,
        )
        if not bandwidth:
            raise ValueError("give at least one candidate bandwidth")
        scores = [float(_kde(samples, validation, float(h)).mean()) for h in bandwidth]
        bandwidth = float(bandwidth[max(range(len(scores)), key=scores.__getitem__)])
    if not (isinstance(bandwidth, (int, float)) and bandwidth > 0 and math.isfinite(bandwidth)):
        raise ValueError(f"bandwidth must be a positive finite number, got {bandwidth!r}")
    return _kde(samples, x, float(bandwidth))


def _kde(samples: torch.Tensor, x: torch.Tensor, h: float) -> torch.Tensor:
    n, d = samples.shape
    log_norm = -0.5 * d * math.log(2 * math.pi * h**2) - math.log(n)
    blocks = [
        torch.logsumexp(-0.5 * torch.cdist(c, samples, compute_mode=EXACT).pow(2) / h**2, dim=1)
        for c in x.split(CHUNK)
    ]
    return torch.cat(blocks) + log_norm
