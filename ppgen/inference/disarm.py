"""``disarm``: ARM with the uniform noise integrated out (Dong, Mnih & Tucker 2020).

``d E[f(b)] / d alpha = E[1/2 (f(b) - f(b~)) (-1)^b~ 1[b != b~] sigmoid(|alpha|)]`` over the same
antithetic pairs as ``arm`` (:mod:`ppgen.inference.antithetic`): unbiased, and never more variance
than ARM, since it is ARM's conditional expectation given the pair.
"""

from __future__ import annotations

import torch

from ..registry import ESTIMATORS
from .antithetic import AntitheticEstimator


@ESTIMATORS.register(
    "disarm", description="ARM with the noise integrated out (Dong, Mnih & Tucker 2020)"
)
class DisARM(AntitheticEstimator):
    """DisARM gradients for Bernoulli sites, pathwise ones elsewhere; unbiased for the ELBO."""

    name = "disarm"

    def coefficient(self, signal, twin_signal, u, b, twin, logits):
        sign = 1.0 - 2.0 * twin  # (-1)^b~
        differ = (b != twin).to(logits)
        return 0.5 * (signal - twin_signal) * sign * differ * torch.sigmoid(logits.abs())
