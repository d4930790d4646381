"""PPCA and factor analysis: closed forms against direct computation, the exact-family guide, and
SVI recovering the exact posterior on linear_gaussian data."""

import warnings

import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from ppgen import PPCA, FactorAnalysis, fit, load_dataset
from ppgen.evaluation import log_importance_weights

CLASSES = [PPCA, FactorAnalysis]


def random_model(cls, data_dim=7, latent_dim=3, dtype=torch.float64):
    torch.manual_seed(1)
    model = cls(data_dim, latent_dim).to(dtype)
    with torch.no_grad():
        model.b.normal_()
        model.noise_std = torch.rand(model.noise_std.shape, dtype=dtype) + 0.5
    return model


def set_guide_to_exact_posterior(model):
    """A = Lambda W^T Psi^-1, c = -A b, L = chol(Lambda): the guide family contains p(z | x)."""
    with torch.no_grad():
        posterior = model.posterior(torch.zeros(1, model.data_dim, dtype=model.dtype))
        covariance = posterior.covariance_matrix[0]  # the same for every x
        A = covariance @ model.W.T / model.noise_variance()
        model.guide_weight.copy_(A)
        model.guide_bias.copy_(-A @ model.b)
        model.guide_scale_tril = torch.linalg.cholesky(covariance)


@pytest.mark.parametrize("cls", CLASSES)
def test_log_prob_matches_direct_multivariate_normal(cls):
    for dtype, tolerance in [(torch.float64, 1e-10), (torch.float32, 2e-5)]:
        model = random_model(cls, dtype=dtype)
        x = torch.randn(20, 7, dtype=dtype) * 2
        covariance = model.W @ model.W.T + torch.diag(model.noise_variance())
        direct = MultivariateNormal(model.b, covariance).log_prob(x)
        assert torch.allclose(model.log_prob(x), direct, rtol=tolerance, atol=0)


@pytest.mark.parametrize("cls", CLASSES)
def test_posterior_matches_gaussian_conditioning(cls):
    """mu = W^T C^-1 (x - b), Lambda = I - W^T C^-1 W with C = W W^T + Psi (issue formulas)."""
    model = random_model(cls)
    x = torch.randn(5, 7, dtype=torch.float64)
    C = model.W @ model.W.T + torch.diag(model.noise_variance())
    gain = model.W.T @ torch.linalg.inv(C)
    posterior = model.posterior(x)
    assert torch.allclose(posterior.loc, (x - model.b) @ gain.T, atol=1e-10)
    expected = torch.eye(3, dtype=torch.float64) - gain @ model.W
    assert torch.allclose(posterior.covariance_matrix, expected, atol=1e-10)


@pytest.mark.parametrize("cls", CLASSES)
def test_exact_guide_makes_every_importance_weight_equal_log_p(cls):
    """With q = p(z | x), log p(x, z) - log q(z | x) = log p(x) for every z: zero variance."""
    model = random_model(cls)
    set_guide_to_exact_posterior(model)
    x = torch.randn(6, 7, dtype=torch.float64)
    weights = log_importance_weights(model, x, num_samples=50)  # (50, 6)
    assert torch.allclose(weights, model.log_prob(x).expand(50, 6), atol=1e-8)


def test_constant_columns_refused_for_fa_and_warned_for_ppca():
    x = torch.rand(30, 4)
    x[:, 2] = 1.0
    with pytest.raises(ValueError, match=r"zero-variance column\(s\) \[2\].*unbounded"):
        fit(FactorAnalysis(4, 1), x, steps=2, progress=False)
    with pytest.warns(UserWarning, match=r"zero-variance column\(s\) \[2\]"):
        fit(PPCA(4, 1), x, steps=2, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(PPCA(4, 1), torch.rand(30, 4), steps=2, progress=False)


def test_bad_latent_dim():
    with pytest.raises(ValueError, match="latent_dim must be an int in 1..4"):
        PPCA(4, 5)


@pytest.mark.parametrize("cls", CLASSES)
def test_svi_recovers_exact_posterior_and_closes_the_elbo_gap(cls):
    """On linear_gaussian data (K = 3), the fitted guide matches the exact posterior
    (mean KL(q || p(z|x)) < 0.01 nats) and the ELBO gap log p(x) - ELBO < 0.01 nats."""
    data = load_dataset("linear_gaussian", num_train=500)
    torch.manual_seed(0)
    model = cls(10, 3).init_from_data(data.train)
    fit(model, data, estimator="meanfield", lr=0.02, steps=2500, batch_size=None, progress=False)
    with torch.no_grad():
        q = model.variational_posterior(data.test)
        p = model.posterior(data.test)
        kl = kl_divergence(q, p)
        weights = log_importance_weights(model, data.test, num_samples=200)
        gap = model.log_prob(data.test) - weights.mean(0)
        fitted = model.log_prob(data.test).mean()
    assert float(kl.mean()) < 0.01
    assert float(gap.mean()) < 0.01
    # And the fit is good: within 0.05 nats/point of the true density on held-out data.
    assert float(fitted) > float(data.log_density(data.test).mean()) - 0.05
