"""Convergence claims of the VAE family on binarized digits (slow; the benchmark's settings, one
seed): the VAE beats the independent-Bernoulli baseline, the IWAE beats the VAE at the same K in
held-out log-likelihood and active units (Burda et al. 2016, Table 1), and an IAF guide gives a
tighter held-out ELBO than the diagonal one on the same VAE. benchmarks/vae_digits.py records the
margins over three seeds."""

import pyro
import pytest
import torch

import ppgen
from ppgen.evaluation import active_units, elbo, independent_bernoulli_log_lik, log_likelihood
from ppgen.models import VAE

pytestmark = pytest.mark.slow

STEPS = 3000


@pytest.fixture(scope="module")
def data():
    return ppgen.load_dataset("digits", binarize="threshold")


def trained(data, estimator="trace", num_particles=1, guide="diagonal"):
    torch.manual_seed(0)
    model = VAE(64, 20, [100, 100], guide=guide).init_from_data(data.train)
    ppgen.fit(
        model,
        data,
        estimator=estimator,
        num_particles=num_particles,
        steps=STEPS,
        batch_size=100,
        progress=False,
        device="cpu",
    )
    pyro.set_rng_seed(0)
    return model


def test_iwae_beats_vae_at_the_same_k_and_both_beat_the_baseline(data):
    baseline = -float(independent_bernoulli_log_lik(data.train, data.test).mean())
    scores = {}
    for name in ("trace", "iwae"):
        model = trained(data, name, 50)
        with torch.no_grad():
            nll = -float(log_likelihood(model, data.test, 1000).mean())
        scores[name] = (nll, active_units(model, data.test))
    # Margins seen over three seeds in the benchmark: baseline - VAE > 5 nats, VAE - IWAE > 0.5.
    assert scores["trace"][0] < baseline - 3, (scores, baseline)
    assert scores["iwae"][0] < scores["trace"][0] - 0.25, scores
    assert scores["iwae"][1] > scores["trace"][1], scores


def test_iaf_guide_gives_a_tighter_elbo_than_the_diagonal_guide(data):
    bounds = {}
    for guide in ("diagonal", "iaf"):
        model = trained(data, guide=guide)
        with torch.no_grad():
            bounds[guide] = float(elbo(model, data.test, num_samples=100).mean())
    assert bounds["iaf"] > bounds["diagonal"] + 0.3, bounds
