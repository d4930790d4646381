"""``concrete`` and ``straight_through``: biased for the discrete ELBO's gradient, with a bias that
shrinks as the temperature falls while the variance grows (against the exact gradient of an SBN
with 8 binary latents); straight-through's forward values are hard; one-hot categorical sites
relax, integer categorical ones are refused before training; the annealed temperature follows
its schedule and is checkpointed."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch

from ppgen import fit
from ppgen.inference import get_estimator
from ppgen.inference.relaxation import RelaxDiscrete
from ppgen.program.errors import ProgramError

TEMPERATURES = (2.0, 0.5, 0.1)


@pytest.mark.parametrize("name", ["concrete", "straight_through"])
def test_bias_shrinks_and_variance_grows_as_the_temperature_falls(name, sbn_of_size):
    """Bias: the norm of (mean of 20000 estimates - exact gradient), with the standard error of
    that norm about 0.03-0.05: it falls by more than 0.05 between temperatures 2, 0.5 and 0.1 (2.61,
    2.47, 2.40 for concrete, measured with 10000 estimates) and stays above 2 (the relaxed KL is not
    the discrete one, even as the temperature vanishes). Variance of one estimate: rises (8.5, 11.2,
    19.5)."""
    sbn = sbn_of_size(seed=1, data_dim=6, latent_dim=8)
    x = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    exact = sbn.exact_gradient(sbn.elbo, x)
    bias, variance = [], []
    for temperature in TEMPERATURES:
        relaxed = get_estimator(name, temperature=temperature, max_plate_nesting=1)
        estimates = sbn.estimated_gradients(relaxed, x, copies=100, repeats=200)
        bias.append(float((estimates.mean(0) - exact).norm()))
        variance.append(float(estimates.var(0).sum() * 100))  # of one single-copy estimate
    assert bias[0] > bias[1] + 0.05 and bias[1] > bias[2] + 0.05, bias
    assert min(bias) > 2.0, bias
    assert variance[0] < variance[1] < variance[2], variance


def test_straight_through_values_are_hard_and_concrete_ones_soft(sbn_of_size):
    sbn = sbn_of_size(seed=1, data_dim=6, latent_dim=8)
    x = torch.ones(5, 6)
    for straight_through, hard in ((True, True), (False, False)):
        relax = RelaxDiscrete(0.5, straight_through)
        trace = pyro.poutine.trace(relax(sbn.model.guide)).get_trace(x)
        value = trace.nodes["h1"]["value"]
        is_hard = bool(((value == 0) | (value == 1)).all())
        assert is_hard == hard
        assert value.requires_grad


def one_hot_pair(one_hot: bool):
    """A mixture over a plate "docs": a 3-way categorical c (one-hot or integer), x ~ N(mu_c, 1)."""
    Categorical = dist.OneHotCategorical if one_hot else dist.Categorical

    def model(x):
        mu = pyro.param("mu", torch.tensor([-2.0, 0.0, 2.0]))
        with pyro.plate("docs", x.shape[0]):
            c = pyro.sample("c", Categorical(logits=torch.zeros(3)))
            loc = (c * mu).sum(-1) if one_hot else mu[c]
            pyro.sample("x", dist.Normal(loc, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.zeros(3))
        with pyro.plate("docs", x.shape[0]):
            pyro.sample("c", Categorical(logits=x[:, None] * w))

    return model, guide


def test_a_one_hot_categorical_relaxes_and_an_integer_one_is_refused():
    x = torch.cat([torch.randn(40) - 2, torch.randn(40) + 2])
    result = fit(one_hot_pair(True), x, estimator="concrete", steps=200, lr=0.05, progress=False)
    w = result.params["w"]
    assert w[2] - w[0] > 0.5, w  # large x goes to the component at +2
    with pytest.raises(ProgramError, match=r"guide site\(s\) 'c' \(Categorical\)"):
        fit(one_hot_pair(False), x, estimator="concrete", steps=1, progress=False)


def test_the_annealed_temperature_follows_its_schedule_and_is_checkpointed():
    concrete = get_estimator("concrete", temperature=1.0, final_temperature=0.3, anneal_rate=0.01)
    assert not concrete.traceable
    model, guide = one_hot_pair(True)
    x = torch.randn(10)
    for _ in range(50):
        concrete(model, guide, x)
    assert concrete.temperature == pytest.approx(math.exp(-0.5))
    for _ in range(200):
        concrete(model, guide, x)
    assert concrete.temperature == pytest.approx(0.3)
    again = get_estimator("concrete", temperature=1.0, final_temperature=0.3, anneal_rate=0.01)
    again.load_state_dict(concrete.state_dict())
    assert again.temperature == pytest.approx(0.3)
    assert get_estimator("concrete").traceable


def test_bad_temperatures_are_refused():
    for bad in (0.0, -1.0, True, float("inf")):
        with pytest.raises(ValueError, match="temperature must be a positive finite number"):
            get_estimator("concrete", temperature=bad)
