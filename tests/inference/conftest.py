"""Exact quantities of a tiny sigmoid belief net by enumeration, for estimator tests."""

import itertools

import pyro
import pyro.distributions as dist
import pytest
import torch
from torch.distributions import Bernoulli

from ppgen import SigmoidBeliefNet


class TinySBN:
    """A 3-pixel, 2-latent-bit SBN whose ELBO and 2-sample bound are exact sums over states."""

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.model = SigmoidBeliefNet(3, [2])
        with torch.no_grad():
            for p in self.model.parameters():
                p.normal_(0, 1.0)
        self.states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=2)))  # (4, 2)

    def log_q_and_log_p(self, x):
        """``log q(h | x)`` and ``log p(x, h)`` for every state h, each ``(4,)``; x is ``(3,)``."""
        m = self.model
        log_q = Bernoulli(logits=m.encoders[0](x)).log_prob(self.states).sum(-1)
        log_p = m._log_prior([self.states])
        log_p = log_p + Bernoulli(logits=m.decoders[0](self.states)).log_prob(x).sum(-1)
        return log_q, log_p

    def elbo(self, x):
        log_q, log_p = self.log_q_and_log_p(x)
        return (log_q.exp() * (log_p - log_q)).sum()

    def two_sample_bound(self, x):
        log_q, log_p = self.log_q_and_log_p(x)
        log_w = log_p - log_q
        pair_q = log_q[:, None] + log_q[None, :]  # (4, 4)
        pair_bound = torch.logaddexp(log_w[:, None], log_w[None, :]) - torch.log(torch.tensor(2.0))
        return (pair_q.exp() * pair_bound).sum()

    def rws_objective(self, x):
        """Exact expectation, over K = 2 guide samples, of RWS's surrogate: the 2-sample bound
        with log q held constant (wake-theta) plus the wake-phi term sum_k w~_k log q(z_k)."""
        log_q, log_p = self.log_q_and_log_p(x)
        pair_q = (log_q[:, None] + log_q[None, :]).exp().detach()  # q(h1) q(h2), constants
        log_w1 = (log_p - log_q.detach())[:, None].expand(4, 4)
        log_w2 = (log_p - log_q.detach())[None, :].expand(4, 4)
        bound = torch.logaddexp(log_w1, log_w2) - torch.log(torch.tensor(2.0))
        w1 = torch.sigmoid(log_w1 - log_w2).detach()  # normalized weight of the first sample
        wake_phi = w1 * log_q[:, None] + (1 - w1) * log_q[None, :]
        return (pair_q * (bound + wake_phi)).sum()

    def exact_gradient(self, objective, x):
        """Gradient of ``-objective(x)`` (a loss) for every parameter, flattened and joined."""
        params = list(self.model.parameters())
        grads = torch.autograd.grad(-objective(x), params)
        return torch.cat([g.flatten() for g in grads])

    def estimated_gradients(self, loss_fn, x, copies=200, repeats=300):
        """``repeats`` gradient estimates of the per-datapoint loss, each the mean of ``copies``
        independent single-datapoint estimates (x replicated in one batch): ``(repeats, P)``."""
        params = list(self.model.parameters())
        batch = x.expand(copies, -1).contiguous()
        rows = []
        for _ in range(repeats):
            grads = torch.autograd.grad(loss_fn(self.model.model, self.model.guide, batch), params)
            rows.append(torch.cat([g.flatten() for g in grads]) / copies)
        return torch.stack(rows)


@pytest.fixture
def tiny_sbn():
    return TinySBN()


def assert_unbiased(estimates, exact, num_se=4.0):
    """Every coordinate of the mean estimate within ``num_se`` standard errors of the exact one."""
    mean = estimates.mean(0)
    se = estimates.std(0) / estimates.shape[0] ** 0.5
    z = (mean - exact).abs() / (se + 1e-12)
    bad = (mean - exact).abs() > num_se * se + 1e-6
    assert not bad.any(), f"max |z| = {z.max():.2f}; mean {mean[bad]}, exact {exact[bad]}"


@pytest.fixture
def check_unbiased():
    return assert_unbiased


def normal_model(x):
    """A user's own pair: z ~ N(loc, I), x ~ N(z, I); the MLE of ``loc`` is the data mean."""
    loc = pyro.param("loc", torch.zeros(2))
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(loc, 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z, 1.0).to_event(1), obs=x)


def normal_guide(x):
    """q(z | x) = N(x / 2 + shift, 0.7^2 I); the exact posterior mean is (x + loc) / 2."""
    shift = pyro.param("shift", torch.zeros(2))
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Normal(x / 2 + shift, 0.7).to_event(1))


@pytest.fixture
def normal_pair():
    return normal_model, normal_guide
