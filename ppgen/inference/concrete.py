"""``concrete``: the relaxed (Concrete / Gumbel-softmax) ELBO of Maddison et al. (2017) and Jang
et al. (2017), for guides with Bernoulli and one-hot categorical sites.

Model and guide are evaluated at relaxed values (:mod:`ppgen.inference.relaxation`), so every site
reparameterizes and gradients are pathwise. **Biased** for the discrete ELBO's gradient: the
objective is the relaxed ELBO, which approaches the discrete one as the temperature falls, while
the gradient's variance grows. The value reported is the relaxed ELBO.
"""

from __future__ import annotations

from ..registry import ESTIMATORS
from .relaxation import RelaxedELBO


@ESTIMATORS.register(
    "concrete",
    description="relaxed ELBO, Concrete/Gumbel-softmax (Maddison et al. 2017); biased",
)
class Concrete(RelaxedELBO):
    """The Concrete relaxation's ELBO, pathwise gradients; biased for the discrete model."""

    name = "concrete"
