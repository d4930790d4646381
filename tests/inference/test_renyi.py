"""``renyi``: the variational Rényi bound on PPCA, whose marginal, posterior and hence
``L_alpha = log p(x) - D_alpha(q || p(z | x))`` are closed forms; equal to IWAE at alpha = 0, to
the ELBO as alpha -> 1, and to Pyro's ``RenyiELBO`` on one data point."""

import math

import pyro
import pytest
import torch
from pyro.infer import RenyiELBO

from ppgen.inference import get_estimator


def log_integral_of_power_product(q, p, alpha):
    """``log int q^alpha p^(1-alpha) dz`` for multivariate normals, by completing the square
    (in float64: near alpha = 1 it is divided by 1 - alpha)."""
    q = torch.distributions.MultivariateNormal(q.loc.double(), q.covariance_matrix.double())
    p = torch.distributions.MultivariateNormal(p.loc.double(), p.covariance_matrix.double())
    Pq, Pp = torch.linalg.inv(q.covariance_matrix), torch.linalg.inv(p.covariance_matrix)
    precision = alpha * Pq + (1 - alpha) * Pp
    eta = alpha * (Pq @ q.loc[..., None]) + (1 - alpha) * (Pp @ p.loc[..., None])
    d = q.loc.shape[-1]

    def normalizer(dist_):
        return -0.5 * torch.logdet(2 * math.pi * dist_.covariance_matrix)

    quadratic = alpha * (q.loc[..., None, :] @ Pq @ q.loc[..., None]) + (1 - alpha) * (
        p.loc[..., None, :] @ Pp @ p.loc[..., None]
    )
    completed = eta.transpose(-1, -2) @ torch.linalg.solve(precision, eta)
    return (
        alpha * normalizer(q) + (1 - alpha) * normalizer(p)
        + 0.5 * d * math.log(2 * math.pi) - 0.5 * torch.logdet(precision)
        + 0.5 * (completed - quadratic)[..., 0, 0]
    )  # fmt: skip


def exact_renyi(model, x, alpha):
    """``L_alpha(x) = log p(x) + 1/(1-alpha) log int q^alpha p(z|x)^(1-alpha)`` per point."""
    q, posterior = model.variational_posterior(x), model.posterior(x)
    log_integral = log_integral_of_power_product(q, posterior, alpha)
    return model.log_prob(x).double() + log_integral / (1 - alpha)


def estimate(model, x, alpha, K, draws=4000):
    """Mean and standard error of the K-sample estimate, per point, over ``draws`` draws."""
    renyi = get_estimator("renyi", num_particles=K, max_plate_nesting=1, alpha=alpha)
    with torch.no_grad():
        values = renyi.surrogate(renyi.parts(model.model, model.guide, x.repeat(draws, 1)))
    values = values.reshape(draws, len(x))
    return values.mean(0), values.std(0) / draws**0.5


def test_the_closed_form_is_the_evidence_less_a_renyi_divergence(imperfect_ppca):
    """Checks of the test's own closed form: it decreases in alpha, is log p(x) at alpha = 0
    (D_0 = 0 where q covers the posterior), and tends to the closed-form ELBO as alpha -> 1."""
    model, x = imperfect_ppca()
    with torch.no_grad():
        log_p = model.log_prob(x).double()
        values = [exact_renyi(model, x, a) for a in (-1.0, -0.5, 0.0, 0.5, 0.9, 1 - 1e-6)]
        for lower, higher in zip(values[1:], values[:-1]):
            assert (lower < higher).all()
        torch.testing.assert_close(values[2], log_p, atol=1e-5, rtol=0)
        q, posterior = model.variational_posterior(x), model.posterior(x)
        kl = torch.distributions.kl_divergence(q, posterior).double()
        torch.testing.assert_close(values[-1], log_p - kl, atol=1e-4, rtol=0)
        assert (values[0] > log_p).all() and (values[3] < log_p).all()


@pytest.mark.parametrize("alpha", [0.5, 0.0, -0.5])
def test_estimates_approach_the_closed_form_from_below_as_k_grows(alpha, imperfect_ppca):
    """E[L_alpha,K] rises with K towards the exact L_alpha (Li & Turner's Theorem 2): at K = 1
    it is the ELBO for every alpha, at K = 200 within 4 s.e. + 0.03 of the closed form. For
    alpha > 0 every K stays below log p(x); for alpha < 0 large K rises above it."""
    model, x = imperfect_ppca()
    with torch.no_grad():
        exact, log_p = exact_renyi(model, x, alpha).float(), model.log_prob(x)
    means = {}
    for K in (1, 5, 200):
        mean, se = estimate(model, x, alpha, K, draws=4000 if K < 200 else 400)
        means[K] = mean
        assert (mean <= exact + 4 * se).all(), (alpha, K, mean, exact)
        if alpha > 0:
            assert (mean <= log_p + 4 * se).all()
    assert (means[1] < means[5]).all() and (means[5] < means[200]).all()
    assert (means[200] - exact).abs().max() < 0.03 + 4 * se.max()
    if alpha < 0:
        assert (means[200] > log_p).all(), (means[200], log_p)


def test_alpha_zero_is_iwae_and_alpha_near_one_is_the_elbo(imperfect_ppca):
    """The same draws give the same value and gradient as iwae at alpha = 0; at alpha = 1 - 1e-6
    the value of the ELBO (alpha = 1) to 1e-4."""
    model, x = imperfect_ppca()
    params = [p for p in model.parameters() if p.requires_grad]

    def value_and_grad(name, **options):
        pyro.set_rng_seed(7)
        loss = get_estimator(name, num_particles=6, max_plate_nesting=1, **options)(
            model.model, model.guide, x
        )
        return loss, torch.autograd.grad(loss, params, allow_unused=True)

    (iwae, iwae_grads), (renyi, renyi_grads) = (
        value_and_grad("iwae"),
        value_and_grad("renyi", alpha=0.0),
    )
    torch.testing.assert_close(renyi, iwae)
    for a, b in zip(renyi_grads, iwae_grads):
        if a is not None:
            torch.testing.assert_close(a, b)
    near_one, _ = value_and_grad("renyi", alpha=1 - 1e-6)
    elbo, _ = value_and_grad("renyi", alpha=1.0)
    assert abs(float(near_one - elbo)) < 1e-4


@pytest.mark.parametrize("alpha", [0.5, -1.0])
def test_equals_pyros_renyi_elbo_on_one_data_point(alpha, imperfect_ppca):
    """On one data point the per-point bound is Pyro's joint one: same draws, same value."""
    model, x = imperfect_ppca()
    point = x[:1]
    pyro.set_rng_seed(3)
    ours = get_estimator("renyi", num_particles=8, max_plate_nesting=1, alpha=alpha)(
        model.model, model.guide, point
    )
    pyro.set_rng_seed(3)
    pyros = RenyiELBO(alpha=alpha, num_particles=8, vectorize_particles=True, max_plate_nesting=1)
    theirs = pyros.loss(model.model, model.guide, point)
    assert float(ours) == pytest.approx(theirs, abs=1e-4)


def test_alpha_must_be_a_finite_number():
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        get_estimator("renyi", alpha=True)
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        get_estimator("renyi", alpha=float("nan"))
