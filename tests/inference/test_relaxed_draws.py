"""REBAR's relaxed draws (``ppgen.inference.relaxed_draws``): the conditional re-sampling given
a draw is exact (the pair ``(b, z~)`` has the law of ``(H(z), z)``), the one-hot score is the
categorical's log-probability on one-hot values and linear off them, and a one-hot site under a
wrapper that cannot be rebuilt is refused with its name.

The statistical checks use 200 000 draws at 5 standard errors (false-failure rate under 1e-5 per
coordinate); each also shows that a wrong conditional would fail them.
"""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch

from ppgen import fit
from ppgen.inference.relaxed_draws import (
    BernoulliRelaxation,
    LinearOneHotCategorical,
    OneHotRelaxation,
)
from ppgen.program.errors import ProgramError

DRAWS, NUM_SE = 200_000, 5.0
EULER = 0.5772156649015329


def within(sample: torch.Tensor, expected: torch.Tensor) -> bool:
    se = sample.std(0) / math.sqrt(len(sample))
    return bool(((sample.mean(0) - expected).abs() <= NUM_SE * se).all())


def test_the_one_hot_conditional_pair_has_the_gumbel_max_law():
    """``b ~ Cat(p)`` then ``z, z~`` given ``b``: argmax of each is ``b``, and each coordinate's
    mean is the unconditional Gumbel's, ``log p_i + gamma``; the variance ``pi^2 / 6`` too."""
    torch.manual_seed(0)
    logits = torch.tensor([1.0, -0.5, 0.2, -2.0]).log_softmax(-1)
    b = dist.OneHotCategorical(logits=logits).sample((DRAWS,))
    z, z_tilde = OneHotRelaxation.conditional_pair(logits.expand(DRAWS, 4), b)
    for sample in (z, z_tilde):
        assert torch.equal(sample.argmax(-1), b.argmax(-1))
        assert within(sample, logits + EULER)
        assert within((sample - logits - EULER) ** 2, torch.full((4,), math.pi**2 / 6))
    # A draw given the wrong class (the next one) moves the means: the check has teeth.
    wrong = OneHotRelaxation.conditional_pair(logits.expand(DRAWS, 4), b.roll(1, -1))[1]
    assert not within(wrong, logits + EULER)


def test_the_bernoulli_conditional_pair_has_the_logistic_law():
    """``b ~ Bernoulli(sigmoid(a))`` then ``z, z~`` given ``b``: ``1[z > 0] = b`` and the mean
    is ``a``; the variance ``pi^2 / 3``."""
    torch.manual_seed(1)
    a = torch.tensor([0.7, -1.5, 0.0])
    b = torch.bernoulli(torch.sigmoid(a).expand(DRAWS, 3))
    for sample in BernoulliRelaxation.conditional_pair(a.expand(DRAWS, 3), b):
        assert torch.equal((sample > 0).float(), b)
        assert within(sample, a)
        assert within((sample - a) ** 2, torch.full((3,), math.pi**2 / 3))


def test_the_linear_one_hot_score():
    logits = torch.tensor([[0.3, -1.0, 2.0], [0.0, 0.5, -0.5]])
    exact = dist.OneHotCategorical(logits=logits)
    linear = LinearOneHotCategorical(logits=logits)
    for k in range(3):
        value = torch.nn.functional.one_hot(torch.tensor([k, k]), 3).float()
        torch.testing.assert_close(linear.log_prob(value), exact.log_prob(value))
    soft = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])
    torch.testing.assert_close(linear.log_prob(soft), (soft * exact.logits).sum(-1))
    assert isinstance(linear.expand((4, 2)), LinearOneHotCategorical)


@pytest.mark.parametrize("name", ["rebar", "relax"])
def test_a_one_hot_site_under_another_wrapper_is_refused_naming_it(name):
    logits = torch.zeros(3)

    def model(x):
        with pyro.plate("rows", x.shape[0]):
            c = pyro.sample("c", dist.OneHotCategorical(logits=logits))
            pyro.sample("x", dist.Normal(c.sum(-1), 1.0), obs=x)

    def guide(x):
        q = pyro.param("q", torch.zeros(3))
        with pyro.plate("rows", x.shape[0]):
            wrapped = dist.TransformedDistribution(dist.OneHotCategorical(logits=q), [])
            pyro.sample("c", wrapped)

    pyro.clear_param_store()
    with pytest.raises(ProgramError, match=r"site 'c'.*TransformedDistribution"):
        fit((model, guide), torch.ones(5), estimator=name, steps=1, progress=False)
