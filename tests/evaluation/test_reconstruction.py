"""Reconstruction error against closed forms for a plain Pyro pair with a known posterior."""

import math

import pyro
import pytest

from ppgen.evaluation import reconstruction_error


def test_reconstruction_error_against_closed_forms(known_posterior):
    """With q(z | x) = N(slope * x_0, 1) and x ~ N(z_0, 1) in both coordinates,
    E_q[-log p(x | z)] = log(2 pi) + 0.5 * sum_i ((x_i - 2 x_0)^2 + 1) and
    E_q ||x - E[x | z]||^2 = sum_i ((x_i - 2 x_0)^2 + 1). 20000 draws: the Monte Carlo error of the
    average over points is ~0.01; the tolerance is 0.05."""
    pair, x = known_posterior["pair"], known_posterior["x"]
    pyro.set_rng_seed(0)
    squared = ((x - 2 * x[:, :1]) ** 2 + 1).sum(-1)
    nll = math.log(2 * math.pi) + 0.5 * squared
    estimate = reconstruction_error(pair, x, "nll", num_samples=20000)
    assert estimate.shape == (len(x),)
    assert estimate.mean().item() == pytest.approx(nll.mean().item(), abs=0.05)
    estimate = reconstruction_error(pair, x, "squared", num_samples=20000)
    assert estimate.mean().item() == pytest.approx(squared.mean().item(), abs=0.05)


def test_unknown_metric_is_refused(known_posterior):
    with pytest.raises(ValueError, match="unknown reconstruction metric"):
        reconstruction_error(known_posterior["pair"], known_posterior["x"], "l1")
