"""Active units and posterior means against values computed by hand for a plain Pyro pair whose
posterior means are known exactly, and for a VAE with a dead unit."""

import math

import pyro
import pytest
import torch

from ppgen.evaluation import active_units, latent_activity, posterior_mean
from ppgen.models import VAE


def test_activity_is_the_variance_of_the_posterior_mean(known_posterior):
    """Cov_x(E_q[z_j | x]) = slope_j^2 Var(x_0): units 4, 0.0025 and 0 -> one active unit."""
    pair, x = known_posterior["pair"], known_posterior["x"]
    activity = latent_activity(pair, x)
    expected = known_posterior["slopes"] ** 2 * x[:, 0].var()
    assert torch.allclose(activity, expected, rtol=1e-5, atol=1e-8)
    assert active_units(pair, x) == 1
    assert active_units(pair, x, threshold=1e-4) == 2


def test_monte_carlo_posterior_mean_for_guides_without_a_closed_form(known_posterior):
    """A flow guide has no .mean: the Monte Carlo mean over 1000 draws has standard error
    1/sqrt(1000) = 0.032 per entry; 5 standard errors bound the worst of 1200 entries (a
    false-failure rate below 1200 * 6e-7 = 7e-4)."""
    pair, x = known_posterior["flow_pair"], known_posterior["x"]
    pyro.set_rng_seed(0)
    means = posterior_mean(pair, x)
    assert (means - x[:, :1] * known_posterior["slopes"]).abs().max() < 5 / math.sqrt(1000)
    assert active_units(pair, x) == 1


def test_vae_posterior_mean_and_activity_of_a_dead_unit():
    """A unit whose encoder weights are zero has E_q[u | x] constant: activity exactly 0."""
    torch.manual_seed(0)
    vae = VAE(6, 3, hidden_dims=[8])
    with torch.no_grad():
        vae.loc_head.weight[1].zero_()
    x = torch.rand(50, 6).round()
    activity = latent_activity(vae, x)
    assert activity[1].item() == 0.0 and (activity[[0, 2]] > 0).all()
    assert torch.allclose(posterior_mean(vae, x), vae.encode(x))


def test_errors_name_the_problem(known_posterior):
    pair, x = known_posterior["pair"], known_posterior["x"]
    with pytest.raises(ValueError, match="unknown latent site 'h'"):
        latent_activity(pair, x, site="h")
    with pytest.raises(ValueError, match="at least 2"):
        latent_activity(pair, x[:1])
