"""``meanfield``: the ELBO with analytic KL terms, Pyro's ``TraceMeanField_ELBO``.

Where ``KL(q(z) || p(z))`` has a closed form for a latent site it replaces the Monte Carlo
``log q - log p`` term, lowering the variance; it requires a guide whose sites do not depend on
other latents (mean-field in that sense), and falls back to Monte Carlo where no closed form is
known.
"""

from __future__ import annotations

from pyro.infer import TraceMeanField_ELBO

from ..registry import ESTIMATORS
from .estimator import Estimator


@ESTIMATORS.register(
    "meanfield", description="ELBO with analytic KL where known (TraceMeanField_ELBO)"
)
class MeanFieldELBO(Estimator, TraceMeanField_ELBO):
    """``TraceMeanField_ELBO`` with vectorized particles."""

    name = "meanfield"
    needs_reparameterized = True
    #: Pyro's value goes through ``.item()``, which a trace would freeze (compiled.py).
    traceable = False

    def __init__(self, num_particles: int = 1, max_plate_nesting: int | None = None):
        super().__init__(
            num_particles=self.check_num_particles(num_particles),
            vectorize_particles=True,
            max_plate_nesting=float("inf") if max_plate_nesting is None else max_plate_nesting,
        )
