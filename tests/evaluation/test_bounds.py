"""ELBO and importance-sampled log-likelihood against PPCA's exact log p(x)."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch

from ppgen import PPCA, load_dataset
from ppgen.evaluation import bits_per_dim, elbo, log_importance_weights, log_likelihood


@pytest.fixture(scope="module")
def x():
    return load_dataset("linear_gaussian", data_dim=5, latent_dim=2).test[:100]


def random_ppca(seed):
    torch.manual_seed(seed)
    model = PPCA(5, 2)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return model


def test_elbo_never_exceeds_log_p_at_random_parameters(x):
    """20 random parameter settings: the mean ELBO estimate (200 samples per point) stays below
    the exact mean log p(x) up to 4 standard errors; by Jensen the true gap is >= 0. With 20
    settings and a 4-s.e. one-sided check the false-failure rate is below 20 * 3.2e-5 = 6e-4."""
    for seed in range(20):
        model = random_ppca(seed)
        with torch.no_grad():
            weights = log_importance_weights(model, x, num_samples=200)  # (200, 100)
            exact = model.log_prob(x).mean()
        per_sample = weights.mean(1)  # mean over points of each sample's log w
        estimate = per_sample.mean()
        se = per_sample.std() / math.sqrt(len(per_sample))
        assert estimate <= exact + 4 * se, (seed, float(estimate), float(exact))
        assert torch.allclose(
            elbo(model, x, num_samples=200, chunk_size=64).mean(),
            estimate,
            atol=10 * float(se) + 1e-3,
        )


def test_log_likelihood_agrees_with_exact_within_monte_carlo_error(x):
    """With a fitted-ish guide the importance-sampled estimate (S = 5000) approaches log p(x):
    it is a lower bound in expectation, and here within 0.05 nats per point."""
    from ppgen import fit

    torch.manual_seed(0)
    model = PPCA(5, 2).init_from_data(x)
    fit(model, x, steps=1500, lr=0.02, batch_size=None, progress=False)
    with torch.no_grad():
        exact = model.log_prob(x)
        estimate = log_likelihood(model, x, num_samples=5000, chunk_size=500)
        bound = elbo(model, x, num_samples=100)
    assert float((exact - estimate).abs().max()) < 0.05
    assert float(estimate.mean()) >= float(bound.mean()) - 1e-3  # tighter than the ELBO


def test_chunking_does_not_change_the_estimate(x):
    model = random_ppca(0)
    pyro.set_rng_seed(5)
    one = log_likelihood(model, x, num_samples=300, chunk_size=300)
    pyro.set_rng_seed(5)
    # Different chunkings draw different samples; they agree within Monte Carlo error.
    many = log_likelihood(model, x, num_samples=300, chunk_size=7)
    assert float((one - many).abs().mean()) < 0.5


def test_plain_functions_and_bad_arguments(x):
    def model(batch):
        with pyro.plate("data", batch.shape[0]):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            loc = z.unsqueeze(-1).expand(z.shape + (5,))  # (..., batch, 5)
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=batch)

    def guide(batch):
        with pyro.plate("data", batch.shape[0]):
            pyro.sample("z", dist.Normal(batch.mean(1), 1.0))

    weights = log_importance_weights((model, guide), x, num_samples=3)
    assert weights.shape == (3, 100)
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        log_likelihood((model, guide), x, num_samples=0)
    with pytest.raises(ValueError, match="NaN"):
        elbo((model, guide), torch.full((2, 5), math.nan))


def test_bits_per_dim():
    assert bits_per_dim(-2 * math.log(2), 2) == pytest.approx(1.0)
    # 64 dequantized pixels of 17 levels: log_det = 64 log 17 moves the scale to the levels.
    log_det = 64 * math.log(17)
    assert bits_per_dim(log_det - 64 * math.log(2), 64, log_det) == pytest.approx(1.0)
    assert torch.allclose(bits_per_dim(torch.tensor([0.0]), 1), torch.tensor([0.0]))
    with pytest.raises(ValueError, match="num_dims"):
        bits_per_dim(1.0, 0)


def test_chunks_over_points_and_samples_combine_exactly():
    """z ~ N(y, 1), x | z ~ N(z 1, I) in 5 dimensions, with the exact posterior as guide: every
    weight equals log p(x | y), so any split into (samples x points) chunks must return it, and
    the per-row labels must follow their rows."""

    def model(batch, y):
        with pyro.plate("data", batch.shape[0]):
            z = pyro.sample("z", dist.Normal(y, 1.0))
            loc = z.unsqueeze(-1).expand(z.shape + (5,))
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=batch)

    def guide(batch, y):
        with pyro.plate("data", batch.shape[0]):  # precision 1 + 5, mean (y + sum x) / 6
            pyro.sample("z", dist.Normal((y + batch.sum(1)) / 6, 6**-0.5))

    torch.manual_seed(0)
    y = 3 * torch.randn(40)
    x = y[:, None] + torch.randn(40, 1) + torch.randn(40, 5)
    covariance = torch.eye(5) + torch.ones(5, 5)
    exact = dist.MultivariateNormal(y[:, None].expand(40, 5), covariance).log_prob(x)
    for batch_size in (None, 13, 1):
        for chunk_size in (50, 7):
            kwargs = {"chunk_size": chunk_size, "batch_size": batch_size, "y": y}
            estimate = log_likelihood((model, guide), x, num_samples=50, **kwargs)
            torch.testing.assert_close(estimate, exact, rtol=0, atol=1e-4)
            torch.testing.assert_close(
                elbo((model, guide), x, 20, **kwargs), exact, rtol=0, atol=1e-4
            )
    with pytest.raises(ValueError, match="batch_size must be a positive int or None"):
        log_likelihood((model, guide), x, batch_size=0, y=y)
    with pytest.raises(ValueError, match="empty"):
        log_likelihood((model, guide), x[:0], y=y[:0])
