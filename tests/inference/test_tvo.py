"""``tvo``: with one partition its value is the ELBO; its integrand E_{pi_beta}[log w] matches the
closed form on PPCA, whose integral over beta in [0, 1] is log p(x); more partitions tighten the
bound, which stays below log p(x)."""

import pyro
import pytest
import torch

from ppgen.inference import get_estimator
from ppgen.inference.tvo import partition, thermodynamic_curve


def expected_log_density(m, S, normal):
    """``E_{N(m, S)}[log normal(z)]`` for a multivariate normal, batched."""
    P = torch.linalg.inv(normal.covariance_matrix)
    diff = (m - normal.loc)[..., None]
    trace = (P @ S).diagonal(dim1=-2, dim2=-1).sum(-1)
    quadratic = (diff.transpose(-1, -2) @ P @ diff)[..., 0, 0]
    return -0.5 * (trace + quadratic + torch.logdet(2 * torch.pi * normal.covariance_matrix))


def exact_curve(model, x, beta: float):
    """``E_{pi_beta}[log w]`` in closed form, per point: pi_beta ∝ q^(1-beta) p(z|x)^beta is
    Gaussian, and log w = log p(x) + log p(z | x) - log q(z)."""
    q, posterior = model.variational_posterior(x), model.posterior(x)
    Pq = torch.linalg.inv(q.covariance_matrix)
    Pp = torch.linalg.inv(posterior.covariance_matrix)
    S = torch.linalg.inv((1 - beta) * Pq + beta * Pp)
    eta = (1 - beta) * Pq @ q.loc[..., None] + beta * Pp @ posterior.loc[..., None]
    m = (S @ eta)[..., 0]
    return model.log_prob(x) + expected_log_density(m, S, posterior) - expected_log_density(m, S, q)


def test_the_closed_form_curve_integrates_to_the_evidence(imperfect_ppca):
    """A check of the test's closed form: Simpson's rule over 201 points gives log p(x) to
    1e-3, the curve rises with beta, and at beta = 0 it is the ELBO."""
    model, x = imperfect_ppca()
    with torch.no_grad():
        betas = torch.linspace(0, 1, 201)
        curve = torch.stack([exact_curve(model, x, float(b)) for b in betas])  # (201, N)
        weights = torch.ones(201)
        weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
        integral = (weights[:, None] * curve).sum(0) / (3 * 200)
        torch.testing.assert_close(integral, model.log_prob(x), atol=1e-3, rtol=0)
        assert (curve[1:] >= curve[:-1] - 1e-5).all()
        kl = torch.distributions.kl_divergence(model.variational_posterior(x), model.posterior(x))
        torch.testing.assert_close(curve[0], model.log_prob(x) - kl, atol=1e-4, rtol=0)


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.7, 1.0])
def test_the_integrand_matches_the_closed_form(beta, imperfect_ppca):
    """Self-normalized from 20000 guide draws per point: within 0.05 nats (over 5 seeds at
    beta = 0, 0.7 and 1 the largest error measured was 0.018)."""
    model, x = imperfect_ppca()
    tvo = get_estimator("tvo", num_particles=20000, max_plate_nesting=1)
    with torch.no_grad():
        parts = tvo.parts(model.model, model.guide, x)
        estimated = thermodynamic_curve(parts.log_w, torch.tensor([beta]))[0]
        exact = exact_curve(model, x, beta)
    assert (estimated - exact).abs().max() < 0.05, (estimated, exact)


def test_one_partition_is_the_elbo_and_more_tighten_below_log_p(imperfect_ppca):
    model, x = imperfect_ppca()
    with torch.no_grad():
        kl = torch.distributions.kl_divergence(model.variational_posterior(x), model.posterior(x))
        elbo, log_p = model.log_prob(x) - kl, model.log_prob(x)

        def value(S, schedule="linear", K=2000):
            pyro.set_rng_seed(0)
            tvo = get_estimator(
                "tvo", num_particles=K, max_plate_nesting=1, num_partitions=S, schedule=schedule
            )
            return tvo.surrogate(tvo.parts(model.model, model.guide, x))

        # One partition: the mean of log w over the draws, i.e. the ELBO's Monte Carlo estimate.
        pyro.set_rng_seed(0)
        tvo = get_estimator("tvo", num_particles=2000, max_plate_nesting=1, num_partitions=1)
        parts = tvo.parts(model.model, model.guide, x)
        torch.testing.assert_close(tvo.surrogate(parts), parts.log_w.mean(0))
        assert (value(1) - elbo).abs().max() < 0.05
        two, twenty, log_schedule = value(2), value(20), value(20, "log")
        assert (value(1) < two).all() and (two < twenty).all()
        assert (twenty < log_p + 0.01).all() and (log_schedule < log_p + 0.01).all()


def test_partitions():
    torch.testing.assert_close(partition(1, "log", -2.0), torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(partition(4, "linear", -2.0), torch.tensor([0, 0.25, 0.5, 0.75, 1]))
    torch.testing.assert_close(
        partition(3, "log", -2.0), torch.tensor([0.0, 0.01, 0.1, 1.0]), atol=1e-6, rtol=0
    )
    with pytest.raises(ValueError, match="schedule must be one of"):
        get_estimator("tvo", schedule="cosine")
    with pytest.raises(ValueError, match="num_partitions must be a positive int"):
        get_estimator("tvo", num_partitions=0)
    with pytest.raises(ValueError, match="needs num_particles >= 2"):
        get_estimator("tvo", num_particles=1)
