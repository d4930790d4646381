"""The VAE's families (networks, likelihoods, guides, priors, labels): gradients, exact densities of
its parts, and clear errors for bad configurations and bad data."""

import math

import pyro
import pytest
import torch

from ppgen.models import VAE

DATA_DIM = 16  # 4x4 images: whole images for the convolutional networks
VARIANTS = {
    "mlp": {},
    "conv": {"encoder": "conv", "decoder": "conv", "image_shape": (4, 4)},
    "full": {"guide": "full"},
    "iaf": {"guide": "iaf"},
    "flow-prior": {"prior": "flow"},
    "gaussian": {"likelihood": "gaussian"},
    "continuous-bernoulli": {"likelihood": "continuous_bernoulli"},
    "conditional": {"num_classes": 3},
    "autoregressive-decoder": {"autoregressive_decoder": [20]},
}


def build(variant, latent_dim=3):
    torch.manual_seed(0)
    return VAE(DATA_DIM, latent_dim, hidden_dims=[12], **VARIANTS[variant])


def example(model, n=5):
    torch.manual_seed(1)
    x = torch.rand(n, DATA_DIM)
    if model.likelihood == "bernoulli":
        x = x.round()
    kwargs = {"y": torch.arange(n) % model.num_classes} if model.conditional else {}
    return x, kwargs


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_reach_every_parameter(variant):
    model = build(variant)
    x, kwargs = example(model)
    loss = pyro.infer.Trace_ELBO().differentiable_loss(model.model, model.guide, x, **kwargs)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"no gradient reaches {name}"
        assert torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("variant", VARIANTS)
def test_sample_decode_and_encode_shapes(variant):
    model = build(variant)
    x, kwargs = example(model)
    samples = model.sample(7, **({"y": torch.zeros(7, dtype=torch.long)} if kwargs else {}))
    assert samples.shape == (7, DATA_DIM)
    assert model.encode(x, **kwargs).shape == (5, 3)
    assert model.reconstruct(x, **kwargs).shape == (5, DATA_DIM)


def test_full_rank_guide_density_matches_its_covariance():
    """q(z | x) of the full-rank guide is the Gaussian with covariance L L^T, L lower-triangular
    with a positive diagonal: its log-density equals the one computed from that covariance."""
    model = build("full")
    x, _ = example(model)
    q = model.posterior(x)
    L = q.scale_tril
    assert torch.equal(L, L.tril()) and (L.diagonal(dim1=-2, dim2=-1) > 0).all()
    assert (L.tril(-1).abs() > 0).any()  # a full covariance, not a diagonal one
    z = q.sample()
    dense = torch.distributions.MultivariateNormal(q.loc, covariance_matrix=L @ L.mT)
    assert torch.allclose(q.log_prob(z), dense.log_prob(z), atol=1e-5)


def test_iaf_guide_scores_its_own_samples_exactly():
    """Pyro reuses the cached inverse for a sample's own log q; recomputing the inverse from a
    copy of the sample (no cache) must give the same density."""
    model = build("iaf")
    x, _ = example(model)
    q = model.posterior(x)
    z = q.rsample()
    assert torch.allclose(q.log_prob(z), model.posterior(x).log_prob(z.clone()), atol=1e-4)


def test_flow_prior_is_a_normalised_density():
    """A grid quadrature of the 2-D flow prior integrates to 1 within 1%."""
    torch.manual_seed(0)
    model = VAE(DATA_DIM, 2, hidden_dims=[12], prior="flow")
    with torch.no_grad():
        for p in model.prior_flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ticks = torch.linspace(-8, 8, 401)
    centres = (ticks[1:] + ticks[:-1]) / 2
    grid = torch.cartesian_prod(centres, centres)
    with torch.no_grad():
        mass = model.prior().log_prob(grid).exp().sum() * (16 / 400) ** 2
    assert mass.item() == pytest.approx(1.0, abs=0.01)


def test_gaussian_likelihood_uses_the_learned_scale():
    model = build("gaussian")
    with torch.no_grad():
        model.log_scale.fill_(math.log(0.5))
    x = torch.rand(4, DATA_DIM)
    z = torch.zeros(4, 3)
    mean = model.decode(z)
    expected = torch.distributions.Normal(mean, 0.5).log_prob(x).sum(-1)
    observed = model.observation(model._decode_params(z, None)).log_prob(x)
    assert torch.allclose(observed, expected, atol=1e-5)


def test_continuous_bernoulli_is_normalised_on_the_unit_interval():
    """The continuous Bernoulli includes its normalising constant (unlike a Bernoulli on
    grey values): its density integrates to 1 over [0, 1] per pixel."""
    model = VAE(1, 1, hidden_dims=[4], likelihood="continuous_bernoulli")
    x = torch.linspace(0.0005, 0.9995, 1000)[:, None]
    with torch.no_grad():
        log_p = model.observation(torch.full((1000, 1), 1.7)).log_prob(x)
    assert (log_p.exp().sum() / 1000).item() == pytest.approx(1.0, abs=1e-3)


def test_conditional_vae_uses_the_labels():
    model = build("conditional")
    z = torch.zeros(3, 3)
    decoded = model.decode(z, torch.tensor([0, 1, 2]))
    assert not torch.allclose(decoded[0], decoded[1])


def test_init_from_data_starts_the_decoder_at_the_data_mean():
    """With the last layer's weights at zero, the decoded image is exactly the data's mean."""
    torch.manual_seed(0)
    x = (torch.rand(200, DATA_DIM) < torch.linspace(0.1, 0.9, DATA_DIM)).float()
    model = VAE(DATA_DIM, 3, hidden_dims=[12]).init_from_data(x)
    with torch.no_grad():
        model.decoder[-1].weight.zero_()
    assert torch.allclose(model.decode(torch.randn(4, 3))[0], x.mean(0), atol=1e-5)


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="unknown guide family 'iaff'.*Did you mean 'iaf'"):
        VAE(DATA_DIM, guide="iaff")
    with pytest.raises(ValueError, match="unknown VAE likelihood"):
        VAE(DATA_DIM, likelihood="poisson")
    with pytest.raises(ValueError, match="needs image_shape"):
        VAE(DATA_DIM, encoder="conv")
    with pytest.raises(ValueError, match="has 9 pixels but the data have 16"):
        VAE(DATA_DIM, decoder="conv", image_shape=(3, 3))
    with pytest.raises(ValueError, match="multiples of 4"):
        VAE(18, encoder="conv", image_shape=(3, 6))
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(DATA_DIM, latent_dim=0)
    with pytest.raises(ValueError, match="num_classes"):
        VAE(DATA_DIM, num_classes=1)


def test_bad_data_and_labels_are_refused():
    bernoulli = build("mlp")
    with pytest.raises(ValueError, match="binary"):
        bernoulli.check_data(torch.full((2, DATA_DIM), 0.5))
    cb = build("continuous-bernoulli")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        cb.check_data(torch.full((2, DATA_DIM), 2.0))
    gaussian = build("gaussian")
    with pytest.raises(ValueError, match="zero-variance column"):
        gaussian.check_training_data(torch.ones(5, DATA_DIM))
    conditional = build("conditional")
    x = torch.ones(4, DATA_DIM)
    with pytest.raises(ValueError, match="pass y="):
        conditional.sample(4)
    with pytest.raises(ValueError, match="labels outside"):
        conditional.sample(4, y=torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        conditional.sample(4, y=torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        conditional.sample(4, y=torch.zeros(4))
    with pytest.raises(ValueError, match="not class-conditional"):
        bernoulli.guide(x, y=torch.zeros(4, dtype=torch.long))


def test_autoregressive_decoder_is_normalised_and_autoregressive():
    """Given z, p(x | z) sums to 1 over all 2^6 vectors, and logit d does not depend on x_d or
    any later pixel (the MADE's order is the natural one)."""
    from ppgen.models.sbn import all_binary_states

    torch.manual_seed(0)
    model = VAE(6, 2, hidden_dims=[8], autoregressive_decoder=[12]).double()
    z = torch.randn(3, 2, dtype=torch.float64)
    likelihood = model.observation(model._decode_params(z, None))
    states = all_binary_states(6, dtype=torch.float64)[:, None, :]  # (64, 1, 6)
    with torch.no_grad():
        total = likelihood.log_prob(states).logsumexp(0)
    torch.testing.assert_close(total, torch.zeros(3, dtype=torch.float64))
    x = torch.rand(6, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda v: likelihood.logits(v)[0], x)
    assert (jacobian.triu() == 0).all() and jacobian.tril(-1).abs().sum() > 0
    with pytest.raises(NotImplementedError, match="no closed-form mean"):
        likelihood.mean  # noqa: B018


def test_autoregressive_decoder_is_refused_where_it_does_not_apply():
    with pytest.raises(ValueError, match="autoregressive_decoder models binary pixels"):
        VAE(6, 2, likelihood="gaussian", autoregressive_decoder=[12])
    with pytest.raises(ValueError, match="at least data_dim = 6 wide"):
        VAE(6, 2, autoregressive_decoder=[4])
