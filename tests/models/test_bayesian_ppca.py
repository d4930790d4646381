"""BayesianPPCA: the marginal program against the closed form at fixed globals, minibatch scaling
of the data plate, vectorized particles, and bad options."""

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import pytest
import torch

from ppgen.models import BayesianPPCA


def test_marginal_model_is_the_closed_form_at_fixed_globals():
    """Conditioned on W and sigma, marginal_model scores x_n ~ N(b, W W^T + sigma^2 I)."""
    torch.manual_seed(0)
    model = BayesianPPCA(5, 2)
    x = torch.randn(7, 5)
    W, sigma = torch.randn(5, 2), torch.tensor(0.7)
    conditioned = poutine.condition(model.marginal_model, data={"W": W, "noise_std": sigma})
    trace = poutine.trace(conditioned).get_trace(x)
    trace.compute_log_prob()
    covariance = W @ W.T + sigma**2 * torch.eye(5)
    expected = dist.MultivariateNormal(model.b.detach(), covariance).log_prob(x)
    torch.testing.assert_close(trace.nodes["x"]["log_prob"].detach(), expected)


def test_minibatch_scales_the_globals_by_batch_over_num_data():
    """A batch of 10 out of 40 points carries a quarter of the globals' log-density, so that
    the loss stays a sum over the batch whose mean over batches is 10/40 of the full ELBO."""
    model = BayesianPPCA(4, 2, num_data=40)
    for program in (model.model, model.guide):
        trace = poutine.trace(program).get_trace(torch.randn(10, 4))
        assert trace.nodes["W"]["scale"] == pytest.approx(0.25)
        assert trace.nodes["noise_std"]["scale"] == pytest.approx(0.25)
        assert trace.nodes["z"]["scale"] == 1.0
    x = torch.randn(10, 4)
    assert BayesianPPCA(4, 2).init_from_data(x).num_data == 10
    assert BayesianPPCA(4, 2, num_data=99).init_from_data(x).num_data == 99


def test_vectorized_particles_average_to_the_single_particle_loss():
    """Trace_ELBO with 2000 vectorized particles agrees with the mean of 1000 single-particle
    losses within 4 Monte Carlo standard errors (the shapes broadcast as documented)."""
    torch.manual_seed(0)
    model = BayesianPPCA(4, 2).init_from_data(torch.randn(6, 4))
    x = torch.randn(6, 4)
    elbo = pyro.infer.Trace_ELBO(num_particles=2000, vectorize_particles=True, max_plate_nesting=1)
    vectorized = elbo.loss(model.model, model.guide, x)
    single = pyro.infer.Trace_ELBO(max_plate_nesting=1)
    losses = torch.tensor([single.loss(model.model, model.guide, x) for _ in range(1000)])
    assert vectorized == pytest.approx(
        losses.mean().item(), abs=4 * losses.std().item() * (1 / 2000 + 1 / 1000) ** 0.5
    )


def test_bad_options():
    with pytest.raises(ValueError, match="latent_dim"):
        BayesianPPCA(3, 4)
    with pytest.raises(ValueError, match="weight_scale"):
        BayesianPPCA(3, 2, weight_scale=0.0)
    with pytest.raises(ValueError, match="num_data"):
        BayesianPPCA(3, 2, num_data=0)
