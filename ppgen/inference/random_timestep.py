"""``timestep``: the random-timestep ELBO of a diffusion model (Ho et al. 2020, Sec. 3.4).

A diffusion model's ELBO is a sum over its T steps (:meth:`ppgen.models.Diffusion.elbo_terms`).
Drawing one step ``t`` uniformly per data point and multiplying its term by T gives an unbiased
estimate of the whole sum with two network passes instead of T, the estimator diffusion models
are trained by. Its expectation equals ``trace``'s (``Trace_ELBO`` on the full chain): tested in
``tests/models/test_diffusion.py``. It applies to programs whose model belongs to an object with
``random_timestep_elbo(*args)`` returning the per-point estimate (ppgen's ``Diffusion``); other
programs are refused before training.
"""

from __future__ import annotations

import torch

from ..program.errors import ProgramError
from ..program.inspection import TIMESTEP_METHOD as OWNER_METHOD
from ..registry import ESTIMATORS
from .estimator import Estimator


def timestep_owner(model):
    """The object whose ``random_timestep_elbo`` the estimator calls, or ``None``."""
    owner = getattr(model, "__self__", None)
    return owner if callable(getattr(owner, OWNER_METHOD, None)) else None


@ESTIMATORS.register(
    "timestep", description="diffusion models: one random step of the ELBO per point, times T"
)
class RandomTimestepELBO(Estimator):
    """``loss(model, guide, *args)``: minus the sum over points of the random-timestep ELBO,
    averaged over ``num_particles`` independent draws of the steps and the noise."""

    name = "timestep"
    needs_timestep_elbo = True

    def __init__(self, num_particles: int = 1, max_plate_nesting: int | None = None):
        # max_plate_nesting is accepted for the common signature and unused.
        self.num_particles = self.check_num_particles(num_particles)

    def __call__(self, model, guide, *args, **kwargs) -> torch.Tensor:
        owner = timestep_owner(model)
        if owner is None:
            raise ProgramError(
                f"the timestep estimator needs a model with {OWNER_METHOD}() (a diffusion "
                f"model, ppgen.models.Diffusion); {getattr(model, '__qualname__', model)!r} "
                "has none"
            )
        draws = [getattr(owner, OWNER_METHOD)(*args, **kwargs) for _ in range(self.num_particles)]
        return -torch.stack(draws).mean(0).sum()
