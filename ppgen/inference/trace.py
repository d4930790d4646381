"""``trace``: the standard Monte Carlo ELBO, Pyro's ``Trace_ELBO`` without host syncs.

Reparameterized gradients where the guide's sites allow them, score-function (REINFORCE) terms
elsewhere; ``num_particles`` samples are drawn in one vectorized pass.

:class:`TraceELBO` is Pyro's ``Trace_ELBO`` with one change: the loss's *value* stays a tensor.
Pyro reads each site's log-density sum back to the host (``torch_item``) to report the ELBO as a
number, which costs a host-device sync per site per step on a GPU, and which a TorchScript trace
freezes as a constant (the replayed value would be the first step's, off by the score-function
terms). Here the value is ``surrogate + (elbo - surrogate).detach()``: the ELBO's value with the
surrogate's gradient, exactly Pyro's estimator.
"""

from __future__ import annotations

from pyro.infer import Trace_ELBO
from pyro.infer.trace_elbo import _compute_log_r
from pyro.infer.util import is_identically_zero

from ..registry import ESTIMATORS
from .estimator import Estimator


@ESTIMATORS.register(
    "trace", description="Monte Carlo ELBO (Pyro Trace_ELBO), vectorized particles"
)
class TraceELBO(Estimator, Trace_ELBO):
    """``Trace_ELBO`` whose loss value is a device tensor (no ``.item()``), so it can be traced;
    vectorized particles (``max_plate_nesting=None``: Pyro finds the nesting)."""

    name = "trace"

    def __init__(self, num_particles: int = 1, max_plate_nesting: int | None = None):
        super().__init__(
            num_particles=self.check_num_particles(num_particles),
            vectorize_particles=True,
            max_plate_nesting=float("inf") if max_plate_nesting is None else max_plate_nesting,
        )

    def _differentiable_loss_particle(self, model_trace, guide_trace):
        # Pyro's own method (pyro/infer/trace_elbo.py), with the ELBO kept as a detached tensor.
        elbo_particle = 0.0
        surrogate_elbo_particle = 0.0
        log_r = None
        for site in model_trace.nodes.values():
            if site["type"] == "sample":
                elbo_particle = elbo_particle + site["log_prob_sum"].detach()
                surrogate_elbo_particle = surrogate_elbo_particle + site["log_prob_sum"]
        for site in guide_trace.nodes.values():
            if site["type"] == "sample":
                _, score_function_term, entropy_term = site["score_parts"]
                elbo_particle = elbo_particle - site["log_prob_sum"].detach()
                if not is_identically_zero(entropy_term):
                    surrogate_elbo_particle = surrogate_elbo_particle - entropy_term.sum()
                if not is_identically_zero(score_function_term):
                    if log_r is None:
                        log_r = _compute_log_r(model_trace, guide_trace)
                    downstream = log_r.sum_to(site["cond_indep_stack"])
                    surrogate_elbo_particle = (
                        surrogate_elbo_particle + (downstream * score_function_term).sum()
                    )
        return -elbo_particle, -surrogate_elbo_particle

    def differentiable_loss(self, model, guide, *args, **kwargs):
        loss = 0.0
        surrogate_loss = 0.0
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            loss_particle, surrogate_particle = self._differentiable_loss_particle(
                model_trace, guide_trace
            )
            loss = loss + loss_particle / self.num_particles
            surrogate_loss = surrogate_loss + surrogate_particle / self.num_particles
        # The ELBO's value, the surrogate's gradient.
        return surrogate_loss + (loss - surrogate_loss).detach()
