"""``trace`` (Trace_ELBO): single-sample gradients are unbiased for the exact ELBO gradient."""

import torch
from pyro.infer import Trace_ELBO


def test_single_sample_gradient_is_unbiased_against_enumeration(tiny_sbn, check_unbiased):
    """Mean of 300 x 200 seeded REINFORCE estimates vs the enumerated ELBO gradient, every
    parameter within 4 standard errors (19 coordinates: false-failure rate ~ 1e-3)."""
    x = torch.tensor([1.0, 0.0, 1.0])
    exact = tiny_sbn.exact_gradient(tiny_sbn.elbo, x)
    elbo = Trace_ELBO(max_plate_nesting=1)
    estimates = tiny_sbn.estimated_gradients(elbo.differentiable_loss, x)
    check_unbiased(estimates, exact)
    assert estimates.std(0).max() > 0.1  # a genuinely noisy estimator, not a degenerate check


def test_trace_estimator_is_pyros_trace_elbo_with_a_tensor_value():
    """ppgen's TraceELBO keeps the value on the device; value and gradient are Pyro's, for a
    score-function guide (SBN) and a reparameterized one (VAE), from the same random state."""
    from ppgen import VAE, SigmoidBeliefNet
    from ppgen.inference import get_estimator

    x = torch.bernoulli(torch.full((16, 12), 0.4), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    for model in (SigmoidBeliefNet(12, [5, 3]), VAE(12, latent_dim=3, hidden_dims=(8,))):
        params = list(model.parameters())
        results = []
        for elbo in (
            get_estimator("trace", num_particles=4, max_plate_nesting=1),
            Trace_ELBO(num_particles=4, vectorize_particles=True, max_plate_nesting=1),
        ):
            torch.manual_seed(3)
            value = elbo.differentiable_loss(model.model, model.guide, x)
            results.append((value, torch.autograd.grad(value, params)))
        (ours, our_grads), (pyros, pyro_grads) = results
        assert isinstance(ours, torch.Tensor)
        torch.testing.assert_close(ours, pyros.detach(), rtol=1e-6, atol=1e-4)
        for a, b in zip(our_grads, pyro_grads):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
