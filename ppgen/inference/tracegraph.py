"""``tracegraph``: Pyro's ``TraceGraph_ELBO`` score-function estimator with baselines.

For non-reparameterizable guide sites (discrete latents) the gradient is REINFORCE (Williams 1992)
with each site's learning signal restricted to the costs downstream of it in the dependency graph,
which Pyro's TraceGraph machinery tracks. A baseline ``b`` subtracted from the learning signal keeps
the estimator unbiased (``E[grad log q] = 0``) and can cut its variance:

- ``baseline="none"``: plain Rao-Blackwellized REINFORCE;
- ``baseline="decaying"``: a running average of the per-datapoint ELBO
  (``b <- beta b + (1 - beta) ELBO``), passed to Pyro as every site's ``baseline_value``;
- ``baseline="nvil"``: the input-dependent neural baseline with centering and variance
  normalization of Mnih & Gregor (2014); see :mod:`ppgen.inference.nvil`. Pyro's baselines cannot
  rescale the learning signal, so this one is ppgen's own surrogate.

Pyro's ``TraceGraph_ELBO`` exposes only ``loss_and_grads`` (it calls ``backward`` itself); this
estimator returns a differentiable loss instead, whose value is the negative ELBO and whose
gradient is TraceGraph's surrogate gradient, so it runs in ``ppgen.fit`` like every other.
"""

from __future__ import annotations

import torch
from pyro.infer import TraceGraph_ELBO
from pyro.poutine.messenger import Messenger
from pyro.poutine.subsample_messenger import _Subsample

from ..registry import ESTIMATORS
from ..validation import check_name
from .estimator import Estimator
from .nvil import NVIL

BASELINES = ("none", "decaying", "nvil")


class _InjectBaseline(Messenger):
    """Sets ``infer["baseline"]["baseline_value"]`` on the guide's non-reparameterized sites."""

    def __init__(self, value: torch.Tensor):
        super().__init__()
        self.value = value  # a scalar tensor

    def _pyro_sample(self, msg):
        fn = msg["fn"]
        # Plates record indices through _Subsample sites; Pyro's TrackNonReparam skips them too.
        if msg["is_observed"] or isinstance(fn, _Subsample) or fn.has_rsample:
            return
        # Pyro needs the baseline in the shape of the site's downstream cost: its batch shape.
        value = self.value.expand(fn.batch_shape)
        msg["infer"] = dict(msg["infer"], baseline={"baseline_value": value})


@ESTIMATORS.register(
    "tracegraph", description="REINFORCE on the dependency graph (TraceGraph_ELBO), baselines"
)
class TraceGraph(Estimator):
    """Differentiable-loss wrapper around Pyro's TraceGraph surrogate, with optional baselines.

    ``baseline``: ``"none"``, ``"decaying"`` (running average, decay ``beta``) or ``"nvil"``
    (:meth:`create` then builds :class:`~ppgen.inference.nvil.NVIL`)."""

    name = "tracegraph"

    @classmethod
    def create(cls, num_particles=None, max_plate_nesting=None, baseline="none", beta=0.9):
        check_name(baseline, BASELINES, "baseline")
        num_particles = cls.default_num_particles if num_particles is None else num_particles
        if baseline == "nvil":
            return NVIL(num_particles, max_plate_nesting, beta=beta)
        return cls(num_particles, max_plate_nesting, baseline, beta)

    def __init__(self, num_particles=1, max_plate_nesting=None, baseline="none", beta=0.9):
        check_name(baseline, BASELINES, "baseline")
        self.num_particles = self.check_num_particles(num_particles)
        # Particles run in a loop: the baseline must match each site's unvectorized batch shape.
        self.elbo = TraceGraph_ELBO(
            num_particles=num_particles,
            max_plate_nesting=float("inf") if max_plate_nesting is None else max_plate_nesting,
        )
        self.baseline = baseline
        self.beta = beta
        self.average = None  # running mean of the per-datapoint ELBO, the "decaying" baseline
        # The running average lives in Python between steps; a trace would freeze it.
        self.traceable = baseline == "none"
        self.name = "tracegraph" if baseline == "none" else f"tracegraph+{baseline}"

    def __call__(self, model, guide, *args, **kwargs):
        if self.baseline == "decaying" and self.average is not None:
            guide = _InjectBaseline(self.average)(guide)
        elbo, surrogate = self.elbo._loss_and_surrogate_loss(model, guide, args, kwargs)
        if self.baseline == "decaying" and torch.is_grad_enabled():
            # Any baseline that does not depend on this step's samples keeps the estimator
            # unbiased; the running ELBO per data point is a cheap, good one.
            per_point = elbo.detach() / (args[0].shape[0] if args else 1)  # no host sync
            self.average = (
                per_point
                if self.average is None
                else (self.beta * self.average + (1 - self.beta) * per_point)
            )
        loss = -elbo
        # The value of the loss, the gradient of the surrogate.
        return surrogate + (loss - surrogate).detach()
