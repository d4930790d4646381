"""Shared fixtures for the evaluation tests."""

import pyro
import pyro.distributions as dist
import pytest
import torch

SLOPES = torch.tensor([2.0, 0.05, 0.0])  # E_q[z_j | x] = slope_j * x_0


def _model(x):
    with pyro.plate("data", x.shape[0], dim=-1):
        z = pyro.sample("z", dist.Normal(torch.zeros(3), 1.0).to_event(1))
        loc = z[..., :1].expand(z.shape[:-1] + (2,))
        pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)


def _guide(x):
    with pyro.plate("data", x.shape[0], dim=-1):
        pyro.sample("z", dist.Normal(x[:, :1] * SLOPES, 1.0).to_event(1))


def _flow_guide(x):
    """The same posterior means, through a transform (no closed-form mean: Monte Carlo)."""
    with pyro.plate("data", x.shape[0], dim=-1):
        base = dist.Normal(torch.zeros(x.shape[0], 3), 1.0).to_event(1)
        shift = dist.transforms.AffineTransform(x[:, :1] * SLOPES, 1.0, event_dim=1)
        pyro.sample("z", dist.TransformedDistribution(base, [shift]))


@pytest.fixture
def known_posterior():
    """A plain Pyro pair with q(z | x) = N(SLOPES * x_0, I) and x ~ N(z_0, I) in 2 coordinates,
    the same pair with a flow guide, the slopes, and 400 data points."""
    torch.manual_seed(0)
    return {
        "pair": (_model, _guide),
        "flow_pair": (_model, _flow_guide),
        "slopes": SLOPES,
        "x": torch.randn(400, 2),
    }
