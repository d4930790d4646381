"""Diffusion as a hierarchical VAE: the schedule and its closed forms, the program's structure,
the random-timestep estimator against the full-trace ELBO (statistical), and refusals."""

import math

import pyro
import pytest
import torch
from pyro.poutine.util import site_is_subsample

from ppgen import fit
from ppgen.evaluation import log_importance_weights
from ppgen.inference import get_estimator
from ppgen.models import VAE, Diffusion
from ppgen.models.diffusion import cosine_schedule
from ppgen.program.errors import ProgramError

# Draws of each estimator in the statistical tests.
DRAWS = 20000


def _is_random(site) -> bool:
    return site["type"] == "sample" and not site_is_subsample(site)


def test_cosine_schedule_ends_in_noise_and_the_posterior_closed_form_matches_bayes():
    betas = cosine_schedule(20)
    abar = torch.cumprod(1 - betas, 0)
    assert betas.shape == (20,) and float(abar[-1]) < 0.01 and (betas > 0).all()
    # q(y_{t-1} | y_t, y_0) by Bayes' rule on two Gaussians, against the model's coefficients.
    model = Diffusion(3, steps=20).double()
    for t in (2, 7, 20):
        prior_var, lik_var = 1 - abar[t - 2], betas[t - 1]  # y_{t-1} | y_0, and y_t | y_{t-1}
        a = (1 - betas[t - 1]).sqrt()
        precision = 1 / prior_var + a**2 / lik_var
        torch.testing.assert_close(model.posterior_var[t - 1], 1 / precision)
        torch.testing.assert_close(
            model.posterior_coef_y0[t - 1], abar[t - 2].sqrt() / prior_var / precision
        )
        torch.testing.assert_close(model.posterior_coef_yt[t - 1], a / lik_var / precision)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_guide_is_the_fixed_forward_chain_and_the_model_its_reverse(likelihood):
    model = Diffusion(4, steps=5, hidden_dims=(8,), likelihood=likelihood)
    x = torch.rand(6, 4).round() if likelihood == "bernoulli" else torch.randn(6, 4)
    guide = pyro.poutine.trace(model.guide).get_trace(x)
    trace = pyro.poutine.trace(pyro.poutine.replay(model.model, trace=guide)).get_trace(x)
    latents = [n for n, s in guide.nodes.items() if _is_random(s)]
    assert latents == [f"y_{t}" for t in range(1, 6)]
    assert [n for n, s in trace.nodes.items() if _is_random(s)][:5] == [
        f"y_{t}" for t in range(5, 0, -1)
    ]
    assert not list(pyro.poutine.trace(model.guide).get_trace(x).param_nodes)  # no parameters
    # The forward chain's marginal: y_2 | y_0 has mean sqrt(abar_2) y_0 (4000 draws at once).
    many = pyro.plate("draws", 4000, dim=-2)(model.guide)
    draws = pyro.poutine.trace(many).get_trace(x).nodes["y_2"]["value"]  # (4000, 6, 4)
    expected = model.abar[1].sqrt() * model.to_chain(x)
    stderr = (1 - model.abar[1]).sqrt() / math.sqrt(4000)
    assert ((draws.mean(0) - expected).abs() < 5 * stderr).all()


def test_random_timestep_estimator_has_the_full_elbos_expectation():
    """E[random-timestep estimate] = E[Trace_ELBO on the full chain], per data point.

    A model trained briefly (so that no step's term dominates), 20000 draws of each estimator:
    the difference of means within 4.5 combined standard errors for each of 8 points
    (false-failure rate below 1e-4 in all). The draws are vectorized: the 8 points repeated.
    """
    torch.manual_seed(0)
    x = torch.rand(64, 16).round()
    model = Diffusion(16, steps=6, hidden_dims=(32,))
    fit(model, x, estimator="timestep", steps=150, lr=3e-3, progress=False, device="cpu")
    x = x[:8]
    with torch.no_grad():
        timestep = model.random_timestep_elbo(x.repeat(DRAWS, 1)).reshape(DRAWS, 8)
        full = log_importance_weights(model, x, num_samples=DRAWS)  # Trace_ELBO's log weights
    difference = timestep.mean(0) - full.mean(0)
    stderr = (timestep.var(0) / len(timestep) + full.var(0) / len(full)).sqrt()
    assert (difference.abs() < 4.5 * stderr).all(), (difference, stderr)
    # The random-timestep estimator is the cheaper one, not the quieter one.
    assert (timestep.std(0) > 0).all()


def test_elbo_terms_sum_to_the_full_elbo_in_expectation():
    """The T + 1 terms are the full ELBO rewritten (Ho et al. 2020, eq. 5): their sum's mean
    equals the mean of the random-timestep estimate, both unbiased for the same quantity."""
    torch.manual_seed(1)
    model = Diffusion(8, steps=4, hidden_dims=(16,), likelihood="gaussian")
    x = torch.randn(5, 8)
    model.init_from_data(torch.randn(50, 8))
    with torch.no_grad():
        terms = model.elbo_terms(x.repeat(DRAWS, 1)).sum(0).reshape(DRAWS, 5)
        timestep = model.random_timestep_elbo(x.repeat(DRAWS, 1)).reshape(DRAWS, 5)
    stderr = (terms.var(0) / DRAWS + timestep.var(0) / DRAWS).sqrt()
    assert ((terms.mean(0) - timestep.mean(0)).abs() < 4.5 * stderr).all()


def test_timestep_estimator_refuses_other_models_by_name():
    vae = VAE(6, latent_dim=2)
    with pytest.raises(ProgramError, match="timestep.*random_timestep_elbo"):
        fit(vae, torch.rand(10, 6).round(), estimator="timestep", steps=2, progress=False)
    estimator = get_estimator("timestep")
    with pytest.raises(ProgramError, match="needs a model with random_timestep_elbo"):
        estimator(vae.model, vae.guide, torch.rand(3, 6).round())


def test_reverse_chain_and_bad_options():
    model = Diffusion(4, steps=3, hidden_dims=(8,))
    assert model.reverse_chain(5).shape == (4, 5, 4)
    with pytest.raises(ValueError, match="steps must be an int >= 2, got 1"):
        Diffusion(4, steps=1)
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        Diffusion(4, likelihood="poisson")
    with pytest.raises(ValueError, match="binary"):
        Diffusion(4).check_data(torch.full((2, 4), 0.5))


@pytest.mark.slow  # 40 s: 6000 steps
def test_on_two_moons_the_elbo_stays_below_the_true_density_within_a_stated_gap():
    """Diffusion(2, T=20, Gaussian decoder), the random-timestep estimator, 6000 steps, seed 0
    (benchmarks/diffusion_toy2d.py): the held-out ELBO must be below the true mean log-density
    (it bounds the model's, which is below the truth's on average) and within 2.2 nats of it
    (measured: 1.80)."""
    from ppgen import load_dataset

    data = load_dataset("moons")
    torch.manual_seed(0)
    pyro.set_rng_seed(0)
    model = Diffusion(2, steps=20, hidden_dims=(128, 128), likelihood="gaussian")
    model.init_from_data(data.train)
    fit(model, data, estimator="timestep", steps=6000, lr=2e-3, batch_size=512, seed=0,
        progress=False)  # fmt: skip
    test = data.test[:2000]
    with torch.no_grad():
        bound = log_importance_weights(model, test, num_samples=200).mean(0)  # (points,)
    truth = float(data.log_density(test).mean())
    stderr = float(bound.std() / len(test) ** 0.5)
    assert float(bound.mean()) + 3 * stderr < truth
    assert truth - float(bound.mean()) < 2.2
