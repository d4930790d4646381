"""The relaxed draws of REBAR and RELAX (Tucker et al. 2017, and its appendix for categorical
variables): per family, the continuous variable a discrete draw is a threshold of, its conditional
re-sampling given the draw, its relaxation at a temperature, and the messenger that relaxes the
draws of a program run.

- ``Bernoulli`` with logits ``a``: ``z = a + logit(u)`` is logistic and ``b = 1[z > 0]``; the
  relaxation is ``sigmoid(z / lambda)``.
- ``OneHotCategorical`` with normalized logits ``l`` (``log p``): ``z = l + g`` with ``g`` Gumbel
  and ``b = onehot(argmax z)``; the relaxation is ``softmax(z / lambda)``. Given ``b``, the top
  coordinate is ``-log(-log v_b)`` and the others are Gumbels truncated below it,
  ``z_i = -log(-log(v_i) / p_i - log v_b)``, computed as a ``logaddexp`` so that tiny ``p_i`` do
  not overflow.

A relaxed value is scored by the families' continuous extensions of their log-probabilities,
linear in the value: Bernoulli's own ``x log p + (1 - x) log(1 - p)`` (torch computes it so), and
for one-hot categoricals ``sum_i x_i log p_i`` (:class:`LinearOneHotCategorical`), since torch's
``OneHotCategorical.log_prob`` takes the argmax of its value and would be flat in it.
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro.poutine.messenger import Messenger

from ..program.errors import ProgramError
from ..program.sites import base_distribution, distribution_family, with_base

# torch.rand may return exactly 0 or 1, whose logit (or log) is infinite: NaN under double
# back-propagation.
EPS = 1e-6


def uniform_like(x: torch.Tensor) -> torch.Tensor:
    return torch.rand_like(x).clamp(EPS, 1 - EPS)


class BernoulliRelaxation:
    """Logistic noise for a Bernoulli site's logits (``value`` shaped)."""

    @staticmethod
    def noise(logits: torch.Tensor) -> torch.Tensor:
        """Logistic noise, ``logit(u)``, shaped like ``logits``."""
        return torch.logit(uniform_like(logits))

    @staticmethod
    def conditional_pair(logits: torch.Tensor, b: torch.Tensor):
        """``(z, z~)``: a logistic ``z`` consistent with ``b = 1[z > 0]`` and ``z~`` drawn again
        given ``b``; both differentiable in ``logits``."""
        p = torch.sigmoid(logits)
        # u given b: above 1 - p where b = 1, below it where b = 0 (held constant: z = a + logit u).
        q0 = (1 - p).detach()
        u = torch.rand_like(p)
        u = torch.where(b > 0.5, q0 + u * (1 - q0), u * q0).clamp(EPS, 1 - EPS)
        v = torch.rand_like(p)
        u_tilde = torch.where(b > 0.5, (1 - p) + v * p, v * (1 - p)).clamp(EPS, 1 - EPS)
        return logits + torch.logit(u), logits + torch.logit(u_tilde)

    @staticmethod
    def relaxed(z: torch.Tensor, temperature) -> torch.Tensor:
        return torch.sigmoid(z / temperature)

    @staticmethod
    def score(logits: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``d log q(b) / d logits``."""
        return b - torch.sigmoid(logits)


class OneHotRelaxation:
    """Gumbel noise for a one-hot categorical site's normalized logits ``(..., C)``."""

    @staticmethod
    def noise(logits: torch.Tensor) -> torch.Tensor:
        """Gumbel noise, ``-log(-log u)``, shaped like ``logits``."""
        return -torch.log(-torch.log(uniform_like(logits)))

    @staticmethod
    def truncated(log_p: torch.Tensor, b: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Gumbel-max variables ``log p + g`` given that ``b`` is their argmax, from uniforms
        ``v``: differentiable in ``log_p`` off the top coordinate (the top is ``Gumbel(0)``)."""
        log_e = torch.log(-torch.log(v))  # log of Exponential(1) draws
        top = (log_e * b).sum(-1, keepdim=True)  # log(-log v_b)
        return torch.where(b > 0.5, -top, -torch.logaddexp(log_e - log_p, top))

    @classmethod
    def conditional_pair(cls, logits: torch.Tensor, b: torch.Tensor):
        """``(z, z~)`` as :meth:`BernoulliRelaxation.conditional_pair`: ``z`` moves with the
        logits at fixed noise, ``z~`` is re-drawn given ``b``."""
        log_p = torch.log_softmax(logits, -1)
        z = cls.truncated(log_p.detach(), b, uniform_like(log_p)) + (log_p - log_p.detach())
        return z, cls.truncated(log_p, b, uniform_like(log_p))

    @staticmethod
    def relaxed(z: torch.Tensor, temperature) -> torch.Tensor:
        return torch.softmax(z / temperature, -1)

    @staticmethod
    def score(logits: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return b - torch.softmax(logits, -1)


RELAXATIONS = {"Bernoulli": BernoulliRelaxation, "OneHotCategorical": OneHotRelaxation}


class LinearOneHotCategorical(dist.OneHotCategorical):
    """A one-hot categorical whose ``log_prob`` is linear in its value, ``sum_i x_i log p_i``:
    the log-probability of one-hot values and its continuous extension to relaxed ones."""

    def log_prob(self, value):
        return (value * self.logits).sum(-1)


def linear_one_hot(msg):
    """The site's distribution with its one-hot categorical scored linearly. torch's argmax
    score is flat in the value, and a control variate discontinuous in ``z`` would bias REBAR:
    under a wrapper it cannot rebuild, the site is refused."""
    base = base_distribution(msg["fn"])
    fn = with_base(msg["fn"], LinearOneHotCategorical(logits=base.logits))
    if fn is None:
        raise ProgramError(
            f"site {msg['name']!r}: its OneHotCategorical is under a {type(msg['fn']).__name__} "
            "wrapper, so its log-probability cannot be extended to relaxed values; use to_event, "
            "mask or expand, or an estimator that does not relax it (rloo, tracegraph)"
        )
    return fn


class RelaxDraws(Messenger):
    """In a run of model and guide, Bernoulli and one-hot categorical sites drawn here (not
    replayed) take the relaxed value of their perturbed logits, the noise kept per site in
    ``noise`` (so that the ``z`` and ``z~`` runs share it); latent one-hot categorical sites are
    scored by :class:`LinearOneHotCategorical`."""

    def __init__(self, temperature: torch.Tensor, noise: dict):
        super().__init__()
        self.temperature, self.noise = temperature, noise

    def _pyro_sample(self, msg):
        family = distribution_family(msg)
        if msg["is_observed"] or family not in RELAXATIONS:
            return
        base = base_distribution(msg["fn"])
        if family == "OneHotCategorical":
            msg["fn"] = linear_one_hot(msg)
        if msg["done"]:
            return
        relaxation = RELAXATIONS[family]
        logits = torch.broadcast_to(base.logits, msg["fn"].shape())
        noise = self.noise.setdefault(msg["name"], relaxation.noise(logits.detach()))
        msg["value"] = relaxation.relaxed(logits + noise, self.temperature)
        msg["done"] = True
