"""``straight_through``: straight-through Gumbel-softmax (Jang et al. 2017; Bengio et al. 2013).

The program sees hard samples (0/1, one-hot) and the gradient flows through their relaxed
Concrete values, ``hard + soft - soft.detach()``; densities are the relaxation's, at the soft
value (as Pyro's ``RelaxedBernoulliStraightThrough`` does). **Biased** for the discrete ELBO's
gradient, as ``concrete`` is, and more so where the program is far from linear in the sample.
"""

from __future__ import annotations

from ..registry import ESTIMATORS
from .relaxation import RelaxedELBO


@ESTIMATORS.register(
    "straight_through",
    description="straight-through Gumbel-softmax: hard forward, relaxed backward; biased",
)
class StraightThrough(RelaxedELBO):
    """Hard samples forward, Concrete gradients backward; biased for the discrete model."""

    name = "straight_through"
    straight_through = True
