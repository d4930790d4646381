"""``enum``: Pyro's ``TraceEnum_ELBO``, summing discrete latents exactly instead of sampling them.

Exactly the sites the user marked are enumerated: a guide decorated with
``pyro.infer.config_enumerate`` (every enumerable site) or sites with
``infer={"enumerate": "parallel"}`` (one by one); their contribution to the ELBO and its gradient
are exact sums weighted by ``q``. Unmarked sites are sampled, as in Pyro. ``fit`` refuses a
program with no marked site (:mod:`ppgen.inference.requirements`). The model must accept the
enumerated values, which arrive in extra batch dimensions to the left of its plates (Pyro's
enumeration tutorial).
"""

from __future__ import annotations

import torch
from pyro.infer import TraceEnum_ELBO

from ..registry import ESTIMATORS
from .estimator import Estimator


@ESTIMATORS.register(
    "enum", description="ELBO with discrete latents summed exactly (TraceEnum_ELBO)"
)
class EnumELBO(Estimator):
    """A loss callable: ``TraceEnum_ELBO``, enumerating the sites marked for enumeration."""

    name = "enum"
    needs_enumerated_sites = True
    sums_enumerated_model_latents = True
    # Enumeration depends on shapes and supports only, never on values: fit may trace it.

    def __init__(self, num_particles: int = 1, max_plate_nesting: int | None = None):
        self.check_num_particles(num_particles)
        self.elbo = TraceEnum_ELBO(
            num_particles=num_particles,
            vectorize_particles=num_particles > 1,
            max_plate_nesting=float("inf") if max_plate_nesting is None else max_plate_nesting,
        )
        self.num_particles = num_particles

    def __call__(self, model, guide, *args, **kwargs):
        if not torch.is_grad_enabled():  # e.g. validation: differentiable_loss refuses no_grad
            return torch.as_tensor(self.elbo.loss(model, guide, *args, **kwargs))
        return self.elbo.differentiable_loss(model, guide, *args, **kwargs)
