"""Continuous relaxations of discrete sites (Maddison, Mnih & Teh 2017; Jang, Gu & Poole 2017),
shared by the ``concrete`` and ``straight_through`` estimators.

:class:`RelaxDiscrete` is a messenger that replaces, in the guide and in the model alike, every
latent ``Bernoulli`` site by a binary Concrete and every ``OneHotCategorical`` site by a Concrete
(Gumbel-softmax) of the same logits and the given temperature, as Maddison et al. do: the guide
draws a relaxed value, and the model scores that value under the relaxed prior, so every site
reparameterizes and the relaxed ELBO has pathwise gradients. An integer ``Categorical`` cannot be
relaxed (the program indexes with its value), and is refused before training.

Densities are taken in logit space (the logistic, resp. ExpConcrete, variable that the value is a
sigmoid, resp. softmax, of), which Maddison et al. recommend for stability: a Concrete value
saturates to exactly 0 or 1 in floating point at low temperatures. The change of variables to the
value is the same in guide and model, so it cancels in ``log p - log q``.

The relaxed ELBO is not the discrete ELBO: the estimators built on it are biased for the discrete
model's gradient, less at lower temperature, with more variance.
"""

from __future__ import annotations

import math

import torch
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.poutine.messenger import Messenger
from torch.distributions import constraints
from torch.distributions.relaxed_bernoulli import LogitRelaxedBernoulli
from torch.distributions.relaxed_categorical import ExpRelaxedCategorical

from ..program.errors import ProgramError
from ..program.importance import weight_parts
from ..program.sites import base_distribution, with_base
from ..validation import check_positive_number
from .multi_sample import MultiSampleEstimator

RELAXABLE = ("Bernoulli", "OneHotCategorical")


class RelaxedSite(TorchDistribution):
    """A relaxed Bernoulli or one-hot categorical whose density is its logit-space variable's."""

    arg_constraints = {}
    support = constraints.real
    has_rsample = True

    def __init__(self, logits, temperature, categorical: bool, straight_through: bool):
        self.logits, self.temperature = logits, temperature
        self.categorical, self.straight_through = categorical, straight_through
        if categorical:
            self.base = ExpRelaxedCategorical(temperature, logits=logits)
            shape, event = logits.shape[:-1], logits.shape[-1:]
        else:
            self.base = LogitRelaxedBernoulli(temperature, logits=logits)
            shape, event = logits.shape, torch.Size()
        super().__init__(shape, event, validate_args=False)

    def expand(self, batch_shape, _instance=None):
        shape = torch.Size(batch_shape) + self.event_shape
        return RelaxedSite(
            self.logits.expand(shape), self.temperature, self.categorical, self.straight_through
        )

    def rsample(self, sample_shape=torch.Size()):  # noqa: B008 (torch's own signature)
        logit = self.base.rsample(sample_shape)
        soft = logit.exp() if self.categorical else torch.sigmoid(logit)
        value = soft
        if self.straight_through:  # hard forward, relaxed backward
            if self.categorical:
                hard = torch.nn.functional.one_hot(soft.argmax(-1), soft.shape[-1]).to(soft)
            else:
                hard = (soft > 0.5).to(soft)
            value = hard + (soft - soft.detach())  # exactly hard in value
        value._ppgen_logit = logit  # the density's variable, for log_prob of this value
        return value

    def log_prob(self, value):
        logit = getattr(value, "_ppgen_logit", None)
        if logit is None:
            logit = value.clamp_min(1e-30).log() if self.categorical else torch.logit(value)
        return self.base.log_prob(logit)


def relaxed(fn, temperature, straight_through: bool):
    """``fn`` with its Bernoulli or one-hot categorical under Pyro's wrappers relaxed, or
    ``None`` where it is neither."""
    base = base_distribution(fn)
    categorical = isinstance(base, torch.distributions.OneHotCategorical)
    if not (categorical or isinstance(base, torch.distributions.Bernoulli)):
        return None
    tau = torch.as_tensor(temperature, dtype=base.logits.dtype, device=base.logits.device)
    return with_base(fn, RelaxedSite(base.logits, tau, categorical, straight_through))


class RelaxDiscrete(Messenger):
    """Relaxes latent Bernoulli and one-hot categorical sites (module docstring).

    The guide's handler (``relaxed_sites=None``) relaxes every such latent and records its name;
    the model's handler gets that record and relaxes exactly those sites, which must be
    Bernoulli or one-hot categorical there too."""

    def __init__(self, temperature: float, straight_through: bool, relaxed_sites=None):
        super().__init__()
        self.temperature, self.straight_through = temperature, straight_through
        self.in_guide = relaxed_sites is None
        self.relaxed_sites = set() if relaxed_sites is None else relaxed_sites

    def _pyro_sample(self, msg):
        if msg["is_observed"] or not (self.in_guide or msg["name"] in self.relaxed_sites):
            return
        fn = relaxed(msg["fn"], self.temperature, self.straight_through)
        if fn is None and not self.in_guide:
            raise ProgramError(
                f"site {msg['name']!r} is relaxed in the guide, but its distribution in the "
                f"model is {type(msg['fn']).__name__}; a relaxation needs a Bernoulli or "
                "OneHotCategorical in model and guide alike"
            )
        if fn is not None:
            msg["fn"] = fn
            self.relaxed_sites.add(msg["name"])


class RelaxedELBO(MultiSampleEstimator):
    """The ELBO of the relaxed programs, K particles averaged, with pathwise gradients.

    ``temperature`` is fixed, or annealed when ``final_temperature`` is given: after ``t``
    training calls it is ``max(final_temperature, temperature * exp(-anneal_rate * t))``
    (Jang et al.'s schedule)."""

    name = "relaxed"
    straight_through = False
    discrete_families = RELAXABLE
    discrete_families_reason = "the relaxation replaces their draws by Concrete ones"

    def __init__(
        self, num_particles: int | None = None, max_plate_nesting: int | None = None,
        temperature: float = 0.5, final_temperature: float | None = None,
        anneal_rate: float = 1e-3,
    ):  # fmt: skip
        super().__init__(num_particles, max_plate_nesting)
        check_positive_number(temperature, "temperature", allow_none=False)
        check_positive_number(final_temperature, "final_temperature")
        check_positive_number(anneal_rate, "anneal_rate", allow_none=False)
        self.initial_temperature, self.final_temperature = temperature, final_temperature
        self.anneal_rate, self.calls = anneal_rate, 0
        # An annealed temperature changes between calls: a compiled trace would freeze it.
        self.traceable = final_temperature is None

    @property
    def temperature(self) -> float:
        """The temperature of the next call."""
        if self.final_temperature is None:
            return self.initial_temperature
        annealed = self.initial_temperature * math.exp(-self.anneal_rate * self.calls)
        return max(self.final_temperature, annealed)

    def parts(self, model, guide, *args, **kwargs):
        pair = self.resolve(model, guide, args, kwargs)
        relax_guide = RelaxDiscrete(self.temperature, self.straight_through)
        relax_model = RelaxDiscrete(
            self.temperature, self.straight_through, relax_guide.relaxed_sites
        )
        if torch.is_grad_enabled():
            self.calls += 1
        parts = weight_parts(
            relax_model(pair.model_fn), relax_guide(pair.guide_fn), args, kwargs,
            self.num_particles,
            pair.data_plate, pair.nesting, False, self.particles,
        )  # fmt: skip
        return parts.per_point_or_joint()

    def surrogate(self, parts) -> torch.Tensor:
        return parts.log_w.mean(0)  # (batch,): the relaxed ELBO

    def log_values(self) -> dict:
        return {"temperature": self.temperature}

    def state_dict(self) -> dict:
        return {"calls": self.calls}

    def load_state_dict(self, state: dict) -> None:
        self.calls = int(state["calls"])
