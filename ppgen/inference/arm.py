"""``arm``: the augment-REINFORCE-merge estimator of Yin & Zhou (2019) for Bernoulli guide sites.

``d E[f(b)] / d alpha = E[(f(b~) - f(b)) (u - 1/2)]`` over antithetic pairs
(:mod:`ppgen.inference.antithetic`): unbiased for the ELBO's gradient, two evaluations per draw
(for a one-layer guide).
"""

from __future__ import annotations

from ..registry import ESTIMATORS
from .antithetic import AntitheticEstimator


@ESTIMATORS.register(
    "arm", description="augment-REINFORCE-merge, antithetic Bernoulli pairs (Yin & Zhou 2019)"
)
class ARM(AntitheticEstimator):
    """ARM gradients for Bernoulli sites, pathwise ones elsewhere; unbiased for the ELBO."""

    name = "arm"

    def coefficient(self, signal, twin_signal, u, b, twin, logits):
        return (twin_signal - signal) * (u - 0.5)
