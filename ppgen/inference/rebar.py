"""``rebar``: REINFORCE with the relaxation as a control variate (Tucker et al. 2017), for
Bernoulli and one-hot categorical guide sites; temperature and control-variate scale tuned online
to minimize variance.

For a Bernoulli site with logits ``alpha`` (``p = sigmoid(alpha)``), ``z = alpha + logit(u)`` is a
logistic variable with ``b = 1[z > 0]``, and ``z~`` is ``z`` drawn again given ``b`` (conditional
re-sampling); a one-hot categorical has Gumbel-max variables in their place, as in the paper's
appendix (:mod:`ppgen.inference.relaxed_draws`). With ``c(z) = eta f(sigma_lambda(z))`` the
learning signal evaluated at the relaxed value (``sigmoid(z / lambda)``, resp.
``softmax(z / lambda)``),

    grad = [f(b) - c(z~)] grad log q(b) + grad c(z) - grad c(z~)   (+ pathwise terms),

unbiased for any ``eta`` and ``lambda``. On a user's program each such guide site gets its term in
turn (:mod:`ppgen.inference.site_passes`): the sites before it replayed, its value relaxed, the
relaxable sites after it relaxed with noise shared by the ``z`` and ``z~`` runs (a control variate
may depend on noise independent of ``z``), the model scoring relaxed values with the families'
continuous extensions, linear in the value. One estimate costs ``1 + 2 (relaxed guide sites)``
runs of model and guide.

``eta`` and ``log lambda`` belong to the estimator (``parameters()``, checkpointed by ``fit``) and
descend the estimate's second moment with respect to each site's logits, ``sum (d/d alpha)^2``
(the estimate is unbiased, so that is its variance up to a constant), computed by double
back-propagation. ``stats`` holds the last call's temperature, scale, and the second moments of
this estimate and of plain REINFORCE's ``f(b) grad log q(b)``, the control variate's reduction.
"""

from __future__ import annotations

import pyro
import torch

from ..program.errors import run_vectorized
from ..program.importance import assemble, compute_log_prob
from ..program.particles import ParticleDraws
from ..program.sites import distribution_family
from ..registry import ESTIMATORS
from ..validation import check_positive_number
from .multi_sample import MultiSampleEstimator
from .relaxed_draws import RELAXATIONS, RelaxDraws
from .rloo import pathwise_elbo
from .site_passes import signal_for_site, site_logits, sites_of_families, upstream_with


@ESTIMATORS.register(
    "rebar",
    description="REINFORCE with a relaxed control variate, tuned online (Tucker et al. 2017)",
)
class REBAR(MultiSampleEstimator):
    """REBAR for Bernoulli and one-hot categorical guide sites, pathwise gradients elsewhere;
    unbiased for the ELBO."""

    name = "rebar"
    default_num_particles = 1
    discrete_families = ("Bernoulli", "OneHotCategorical")
    discrete_families_reason = (
        "the relaxations are of Bernoulli and one-hot draws; an integer Categorical's value "
        "indexes the program and has no relaxed value, write it as OneHotCategorical"
    )
    traceable = False  # tuned state, double back-propagation

    def __init__(self, num_particles=None, max_plate_nesting=None, temperature=0.5, eta=1.0):
        super().__init__(num_particles, max_plate_nesting)
        check_positive_number(temperature, "temperature", allow_none=False)
        check_positive_number(eta, "eta", allow_none=False)
        self.log_temperature = torch.nn.Parameter(torch.tensor(float(temperature)).log())
        self.eta = torch.nn.Parameter(torch.tensor(float(eta)))
        self.stats: dict = {}

    # ----- the estimator's own state: trained and checkpointed by fit() ----------------------
    def tuned_parameters(self) -> list:
        return [self.log_temperature, self.eta]

    def parameters(self):
        return iter(self.tuned_parameters())

    def state_dict(self) -> dict:
        return {"tuned": [p.detach().clone() for p in self.tuned_parameters()]}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for p, value in zip(self.tuned_parameters(), state["tuned"]):
                p.copy_(value)

    def prepare(self, guide_trace) -> None:
        """Build what the control variates need of the program's sites (nothing here)."""

    def control_variate(self, relaxed_signal, relaxed_value, site, layout) -> torch.Tensor:
        """``c`` per sample and point from the relaxed signal ``(K, points)``; ``layout`` is
        ``(data plate, sample dim)``."""
        return self.eta * relaxed_signal

    def log_values(self) -> dict:
        """The last training call's temperature and scale, and the control variate's variance
        reduction: plain REINFORCE's second moment over this estimate's (of the logits'
        gradient)."""
        values = {k: self.stats[k] for k in ("temperature", "eta") if k in self.stats}
        if self.stats.get("second_moment"):
            values["variance_reduction"] = self.stats["reinforce"] / self.stats["second_moment"]
        return values

    def model_evaluations(self, info) -> int:
        """Runs of the model per estimate: ``K (1 + 2 relaxed guide sites)``."""
        sites = [n for n, f in info.discrete_families.items() if f in self.discrete_families]
        return self.num_particles * (1 + 2 * len(sites))

    # ----- one estimate ------------------------------------------------------------------------
    def __call__(self, model, guide, *args, **kwargs) -> torch.Tensor:
        pair = self.resolve(model, guide, args, kwargs)
        K, sample_dim = self.num_particles, -pair.nesting - 1
        self.move_to(args)
        return run_vectorized(lambda: self._loss(pair, args, kwargs, K, sample_dim), K)

    def move_to(self, args) -> None:
        """Keep the tuned parameters on the data's device."""
        x = next((a for a in args if torch.is_tensor(a)), None)
        if x is not None and x.device != self.eta.device:
            for p in self.tuned_parameters():
                p.data = p.data.to(x.device)

    def _loss(self, pair, args, kwargs, K, sample_dim):
        draws = ParticleDraws()

        def weights(guide_trace):
            model_trace = draws.trace(
                pair.model_fn, args, kwargs, K, sample_dim, guide_trace, compute_log_prob
            )
            parts = assemble(model_trace, guide_trace, pair.data_plate, sample_dim)
            return parts.per_point_or_joint()

        def relaxed(guide_trace, name, value, noise):
            with pyro.validation_enabled(False), RelaxDraws(temperature, noise):
                partial = upstream_with(guide_trace, name, value)
                relaxed_trace = draws.trace(
                    pair.guide_fn, args, kwargs, K, sample_dim, partial, compute_log_prob
                )
                return weights(relaxed_trace).log_w  # (K, points), differentiable

        guide_trace = draws.trace(
            pair.guide_fn, args, kwargs, K, sample_dim, None, compute_log_prob
        )
        base = weights(guide_trace)
        signal, layout = base.log_w.detach(), (pair.data_plate, sample_dim)
        # The tuned temperature stays in [0.01, 10]: beyond, the relaxation saturates and the
        # variance objective's gradient in it vanishes or overflows.
        temperature = self.log_temperature.clamp(-4.6, 2.3).exp()
        main = pathwise_elbo(base).mean(0).sum()
        second_moment = reinforce_moment = 0.0
        self.prepare(guide_trace)
        if not torch.is_grad_enabled():  # a value only (validation): the terms below add 0
            return -main
        for name in sites_of_families(guide_trace, self.discrete_families):
            site = guide_trace.nodes[name]
            relaxation = RELAXATIONS[distribution_family(site)]
            logits, b = site_logits(site), site["value"]
            z, z_tilde = relaxation.conditional_pair(logits, b)
            noise: dict = {}
            soft = relaxation.relaxed(z, temperature)
            soft_tilde = relaxation.relaxed(z_tilde, temperature)
            c = self.control_variate(relaxed(guide_trace, name, soft, noise), z, site, layout)
            c_tilde = self.control_variate(
                relaxed(guide_trace, name, soft_tilde, noise), z_tilde, site, layout
            )
            score = relaxation.score(logits, b)  # d log q(b) / d logits
            f = signal_for_site(signal, site, *layout)
            coefficient = f - signal_for_site(c_tilde, site, *layout)  # graph in eta, lambda
            difference = (c - c_tilde).sum()
            (path,) = torch.autograd.grad(difference, logits, create_graph=True)
            estimate = coefficient * score + path  # d/d alpha, per element
            second_moment = second_moment + estimate.pow(2).sum()
            reinforce_moment = reinforce_moment + (f * score).pow(2).sum().detach()
            reinforce = coefficient.detach() * score.detach() * (logits - logits.detach())
            main = main + reinforce.sum() / K
            main = main + (difference - difference.detach()) / K
        return self._tuned_loss(main, second_moment, reinforce_moment, temperature)

    def _tuned_loss(self, main, second_moment, reinforce_moment, temperature):
        """``-main`` whose gradient in the tuned parameters is that of ``second_moment``."""
        tuned = self.tuned_parameters()
        self.stats = {"temperature": float(temperature.detach()), "eta": float(self.eta.detach())}
        if not torch.is_tensor(second_moment):  # no Bernoulli site: nothing to tune
            return -main
        self.stats.update(
            second_moment=float(second_moment.detach()), reinforce=float(reinforce_moment)
        )
        variance_grads = torch.autograd.grad(
            second_moment, tuned, retain_graph=True, allow_unused=True
        )
        main_grads = torch.autograd.grad(main, tuned, retain_graph=True, allow_unused=True)
        correction = sum(
            (((0 if g is None else g) + (0 if h is None else h)) * (p - p.detach())).sum()
            for p, g, h in zip(tuned, variance_grads, main_grads)
        )
        return -main + correction
