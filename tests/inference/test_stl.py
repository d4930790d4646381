"""``stl``: sticking the landing is unbiased for the ELBO's gradient (closed form on a user's
Gaussian pair) and its guide gradient vanishes at the exact posterior, where the reparameterized
ELBO's does not; it refuses discrete guides before training."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch

from ppgen import SigmoidBeliefNet, fit, load_dataset
from ppgen.inference import get_estimator
from ppgen.program.errors import ProgramError


def model(x):
    """z ~ N(loc, 1), x ~ N(z, 1) per point and dimension, over a plate named "rows"."""
    loc = pyro.param("loc", torch.tensor([0.5, -0.2]))
    with pyro.plate("rows", x.shape[0]):
        z = pyro.sample("z", dist.Normal(loc, 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z, 1.0).to_event(1), obs=x)


def guide(x):
    """q(z | x) = N(x / 2 + shift, exp(log_scale)^2); exact at shift = loc / 2, scale^2 = 1/2."""
    shift = pyro.param("shift", torch.tensor([0.1, 0.3]))
    log_scale = pyro.param("log_scale", torch.tensor([0.2, -0.6]))
    with pyro.plate("rows", x.shape[0]):
        pyro.sample("z", dist.Normal(x / 2 + shift, log_scale.exp()).to_event(1))


def exact_elbo(x):
    loc, shift, s = pyro.param("loc"), pyro.param("shift"), pyro.param("log_scale").exp()
    m = x / 2 + shift
    log_prior = -0.5 * ((m - loc) ** 2 + s**2) - 0.5 * math.log(2 * math.pi)
    log_lik = -0.5 * ((x - m) ** 2 + s**2) - 0.5 * math.log(2 * math.pi)
    entropy = 0.5 * torch.log(2 * math.pi * math.e * s**2)
    return (log_prior + log_lik + entropy).sum()


def leaves():
    return [pyro.param(k).unconstrained() for k in ("loc", "shift", "log_scale")]


def estimates(loss, x, repeats):
    rows = []
    for _ in range(repeats):
        grads = torch.autograd.grad(loss(model, guide, x), leaves())
        rows.append(torch.cat([g.flatten() for g in grads]))
    return torch.stack(rows)


def test_unbiased_for_the_elbo_gradient(check_unbiased):
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    guide(x), model(x)  # create the parameters
    exact = torch.cat([g.flatten() for g in torch.autograd.grad(-exact_elbo(x), leaves())])
    stl = get_estimator("stl", num_particles=2, max_plate_nesting=1)
    result = estimates(stl, x, repeats=400)
    check_unbiased(result, exact, num_se=4.5)
    assert result.std(0).max() > 0.1


def test_guide_gradient_vanishes_at_the_exact_posterior():
    """At shift = loc / 2 and scale^2 = 1/2 the STL guide gradient is 0 on every draw (to 1e-5);
    the reparameterized ELBO's (trace) keeps a standard deviation above 0.5."""
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    guide(x), model(x)
    with torch.no_grad():
        pyro.param("shift").copy_(pyro.param("loc") / 2)
        pyro.param("log_scale").fill_(0.5 * math.log(0.5))
    stl = estimates(get_estimator("stl", max_plate_nesting=1), x, repeats=50)
    trace = estimates(get_estimator("trace", max_plate_nesting=1).differentiable_loss, x, 50)
    guide_columns = slice(2, 6)
    assert stl[:, guide_columns].abs().max() < 1e-5
    assert trace[:, guide_columns].std(0).min() > 0.5


def test_refuses_a_discrete_guide_before_training():
    data = load_dataset("digits", binarize="threshold")
    with pytest.raises(ProgramError, match="stl differentiates through reparameterized"):
        fit(SigmoidBeliefNet(64, [4]), data, estimator="stl", steps=1, progress=False)
