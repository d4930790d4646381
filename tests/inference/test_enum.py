"""``enum``: on a user's mixture model with a categorical latent marked for enumeration, the
enumerated ELBO is exact: deterministic, equal to the hand-computed sum over components, and it
fits the mixture. Only marked sites are enumerated."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import config_enumerate

from ppgen import fit
from ppgen.inference import get_estimator

LOCS = torch.tensor([-3.0, 0.0, 4.0])


def model(x):
    weights = pyro.param("weights", torch.ones(3) / 3, constraint=dist.constraints.simplex)
    locs = pyro.param("locs", torch.tensor([-1.0, 0.5, 1.0]))
    with pyro.plate("data", x.shape[0], dim=-1):
        z = pyro.sample("z", dist.Categorical(weights))
        pyro.sample("x", dist.Normal(locs[z], 1.0), obs=x[..., 0])


@config_enumerate
def guide(x):
    slope = pyro.param("slope", torch.zeros(3))
    offset = pyro.param("offset", torch.zeros(3))
    with pyro.plate("data", x.shape[0], dim=-1):
        pyro.sample("z", dist.Categorical(logits=x * slope + offset))


def exact_elbo(x):
    weights, locs = pyro.param("weights"), pyro.param("locs")
    q = torch.softmax(x * pyro.param("slope") + pyro.param("offset"), -1)  # (N, 3)
    log_joint = weights.log() + dist.Normal(locs, 1.0).log_prob(x)  # (N, 3)
    return (q * (log_joint - q.log())).sum()


@pytest.fixture
def x():
    torch.manual_seed(0)
    return (LOCS[torch.randint(3, (300,))] + torch.randn(300))[:, None]


def test_loss_is_the_exact_elbo_and_deterministic(x):
    enum = get_estimator("enum", max_plate_nesting=1)
    first, second = enum(model, guide, x), enum(model, guide, x)
    assert first.item() == second.item()
    assert first.item() == pytest.approx(-exact_elbo(x).item(), rel=1e-6)
    params = [pyro.param(n).unconstrained() for n in ("weights", "locs", "slope", "offset")]
    grads = torch.autograd.grad(first, params)
    exact = torch.autograd.grad(-exact_elbo(x), params)
    for g, e in zip(grads, exact):
        assert torch.allclose(g, e, atol=1e-4)


def test_fits_the_mixture(x):
    result = fit(
        (model, guide), x, estimator="enum", steps=1500, lr=0.05, batch_size=None, progress=False
    )
    locs = result.params["locs"].sort().values
    assert torch.allclose(locs, LOCS, atol=0.3)
    assert result.final_loss == pytest.approx(-exact_elbo(x).item() / len(x), abs=1e-3)


def test_only_marked_sites_are_enumerated(x):
    """A guide with one site marked and one left sampled: the marked one is summed exactly (the
    loss does not vary in it), the other is sampled (the loss varies from call to call)."""

    def model2(x):
        model(x)
        with pyro.plate("extra", 4):
            pyro.sample("u", dist.Bernoulli(0.5))

    def guide2(x):
        guide(x)
        with pyro.plate("extra", 4):
            pyro.sample("u", dist.Bernoulli(0.3))  # not marked: sampled

    enum = get_estimator("enum", max_plate_nesting=1)
    values = {round(enum(model2, guide2, x).item(), 4) for _ in range(20)}
    assert len(values) > 1  # u is sampled
    # The sampled part has 2^4 outcomes; the enumerated z would add N*3-way variation on top.
    assert len(values) <= 16
