"""``trace``: the standard Monte Carlo ELBO, Pyro's ``Trace_ELBO``.

Reparameterized gradients where the guide's sites allow them, score-function (REINFORCE) terms
elsewhere; ``num_particles`` samples are drawn in one vectorized pass.
"""

from __future__ import annotations

from pyro.infer import Trace_ELBO

from .registry import register_estimator


def make(num_particles: int = 1, max_plate_nesting: int | None = None) -> Trace_ELBO:
    """``Trace_ELBO`` with vectorized particles (needs a known or guessable plate nesting)."""
    return Trace_ELBO(
        num_particles=num_particles,
        vectorize_particles=True,
        max_plate_nesting=float("inf") if max_plate_nesting is None else max_plate_nesting,
    )


register_estimator("trace", make, "Monte Carlo ELBO (Pyro Trace_ELBO), vectorized particles")
