"""``enum``: Pyro's ``TraceEnum_ELBO``, summing discrete latents exactly instead of sampling them.

Every guide site with enumerable support (Categorical, Bernoulli, ...) is enumerated in parallel
(``config_enumerate(guide, "parallel")``), so its contribution to the ELBO and its gradient are
exact sums weighted by ``q``; sites that cannot be enumerated (continuous, or a vector of Bernoullis
declared with ``to_event``) are still sampled. The model must accept the enumerated values, which
arrive in extra batch dimensions to the left of its plates (Pyro's enumeration tutorial).
"""

from __future__ import annotations

import torch
from pyro.infer import TraceEnum_ELBO, config_enumerate

from .registry import register_estimator


class EnumELBO:
    """A loss callable: ``TraceEnum_ELBO`` on the guide with every enumerable site enumerated."""

    __name__ = "enum"
    #: Enumeration depends on shapes and supports only, never on values: ``fit`` may trace it.
    traceable = True

    def __init__(self, num_particles: int = 1, max_plate_nesting: int | None = None):
        self.elbo = TraceEnum_ELBO(
            num_particles=num_particles,
            vectorize_particles=num_particles > 1,
            max_plate_nesting=float("inf") if max_plate_nesting is None else max_plate_nesting,
        )
        self.num_particles = num_particles

    def __call__(self, model, guide, *args, **kwargs):
        guide = config_enumerate(guide, default="parallel")
        if not torch.is_grad_enabled():  # e.g. validation: differentiable_loss refuses no_grad
            return torch.as_tensor(self.elbo.loss(model, guide, *args, **kwargs))
        return self.elbo.differentiable_loss(model, guide, *args, **kwargs)


def make(num_particles: int = 1, max_plate_nesting: int | None = None) -> EnumELBO:
    return EnumELBO(num_particles, max_plate_nesting)


register_estimator("enum", make, "ELBO with discrete latents summed exactly (TraceEnum_ELBO)")
