"""2-D toy sets: seeded samples; true log-densities that are normalized and match the sampler."""

import math

import pytest
import torch

from ppgen import load_dataset
from ppgen.data.toy2d import Moons

TOYS = ["ring8", "grid25", "8gaussians", "moons"]


@pytest.mark.parametrize("name", TOYS)
def test_seeded_and_sized(name):
    a = load_dataset(name, num_train=100, num_val=10, num_test=20, seed=3)
    b = load_dataset(name, num_train=100, num_val=10, num_test=20, seed=3)
    assert a.train.shape == (100, 2) and a.val.shape == (10, 2) and a.test.shape == (20, 2)
    assert torch.equal(a.train, b.train)


@pytest.mark.parametrize("name", TOYS)
def test_log_density_integrates_to_one(name):
    """Riemann sum of exp(log_density) over a fine grid covering the support; tolerance 1e-3."""
    data = load_dataset(name, num_train=10, num_val=10, num_test=10)
    # The narrow ring needs a fine grid; the moons (std 0.1) live in a small box.
    step = {"ring8": 0.005, "moons": 0.02}.get(name, 0.01)
    low, high = (-2, 3) if name == "moons" else (-6, 6)
    ticks = torch.arange(low, high, step, dtype=torch.float64)
    grid = torch.cartesian_prod(ticks, ticks)
    mass = sum(data.log_density(chunk).exp().sum() for chunk in grid.split(200_000)) * step**2
    assert abs(float(mass) - 1) < 1e-3


@pytest.mark.parametrize("name", TOYS)
def test_samples_come_from_the_density(name):
    """The mean log-density of samples estimates minus the entropy; compare two independent
    estimates: samples vs. the true density's own mean over a large fresh sample (4 s.e.)."""
    data = load_dataset(name, num_train=20000, num_val=10, num_test=20000, seed=1)
    a, b = data.log_density(data.train), data.log_density(data.test)
    se = math.sqrt(a.var() / len(a) + b.var() / len(b))
    assert abs(float(a.mean() - b.mean())) < 4 * se
    # And the density is much higher at samples than at uniform points over the box.
    uniform = torch.rand(20000, 2) * 12 - 6
    assert data.log_density(uniform).mean() < a.mean() - 2


def test_mixture_density_matches_direct_formula():
    data = load_dataset("8gaussians", num_train=5, num_val=5, num_test=5)
    x = torch.tensor([[0.3, -1.2]])
    centers, std = data.meta["centers"], data.meta["std"]
    direct = sum(torch.distributions.Normal(c, std).log_prob(x).sum().exp() for c in centers) / len(
        centers
    )
    assert torch.allclose(data.log_density(x), direct.log(), atol=1e-5)


def test_moons_quadrature_is_converged():
    x = load_dataset("moons", num_train=500, num_val=5, num_test=5).train.double()
    coarse, fine = Moons(quadrature_nodes=256), Moons(quadrature_nodes=2048)
    assert torch.allclose(coarse.log_density(x), fine.log_density(x), atol=1e-8)
