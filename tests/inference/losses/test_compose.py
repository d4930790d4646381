"""Composed objectives: ``elbo + lam * mmd`` evaluates as the sum of its terms, trains a VAE, logs
each term, and the MMD term's gradient reaches only the encoder (the guide), never the decoder."""

import pyro
import pytest
import torch

from ppgen import VAE, fit, load_dataset
from ppgen.evaluation.gradients import parameter_groups
from ppgen.inference.losses import MMDLoss, as_loss, elbo, mmd2
from ppgen.models import Generator


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", binarize="threshold")


def small_vae(seed=0):
    torch.manual_seed(seed)
    return VAE(64, latent_dim=4, hidden_dims=(64,))


def test_composed_value_is_the_weighted_sum_of_its_terms(digits):
    vae, x = small_vae(), digits.train[:64]
    trace, mmd = elbo("trace"), MMDLoss(site="z", target="prior")
    composed = trace + 3.0 * mmd
    composed(vae.model, vae.guide, x)  # Pyro's ELBO guesses the plate nesting on its first call
    pyro.set_rng_seed(5)
    total = composed(vae.model, vae.guide, x)
    pyro.set_rng_seed(5)
    expected = trace(vae.model, vae.guide, x) + 3.0 * mmd(vae.model, vae.guide, x)
    assert torch.allclose(total, expected)
    assert composed.name == "trace + 3*mmd_prior"
    assert set(composed.last_parts) == {"trace", "3*mmd_prior"}
    # Names, ELBO objects and callables compose too; sums flatten.
    assert len((composed + "iwae").terms) == 3
    assert ("trace" + mmd).name == "trace + mmd_prior"


def test_mmd_value_is_batch_size_times_mmd2_of_the_sites():
    """On a model whose generated site is known exactly, the loss is n * MMD^2(site, data)."""
    points = torch.randn(20, 2)

    def model(x):
        with pyro.plate("data", len(x)):
            pyro.deterministic("x", points, event_dim=1)

    def guide(x):
        pass

    data = torch.randn(20, 2) + 1
    loss = MMDLoss(scales=(0.5, 2.0))
    expected = 20 * mmd2(points, data, scales=(0.5, 2.0))
    assert torch.allclose(loss(model, guide, data), expected)


def test_mmd_gradient_reaches_only_the_encoder(digits):
    """MMD(q(z), p(z)) depends on the data only through the encoder: every encoder parameter
    gets a gradient, no decoder parameter does. The ELBO term reaches both."""
    vae, x = small_vae(), digits.train[:64]
    groups = parameter_groups(vae, x)  # the guide's parameters are those log q(z | x) uses
    encoder = {id(p) for p in groups["guide"]}
    assert encoder and groups["model"]
    MMDLoss(site="z", target="prior")(vae.model, vae.guide, x).backward()
    for name, param in vae.named_parameters():
        if id(param) in encoder:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None or not param.grad.any(), name
    vae.zero_grad(set_to_none=True)
    elbo("trace")(vae.model, vae.guide, x).backward()
    assert all(p.grad is not None for p in vae.parameters())


def test_elbo_plus_mmd_trains_a_vae_and_pulls_q_z_to_the_prior(digits):
    """Seeded: 600 steps of -ELBO + 100 * MMD^2 improve the test ELBO by more than 10 nats over
    the untrained VAE, and leave the aggregate posterior closer to N(0, I) (MMD^2 of test codes
    against prior draws) than 600 steps of the ELBO alone."""
    results = {}
    for name, loss in {
        "elbo": elbo("trace"),
        "elbo+mmd": "trace" + 100 * MMDLoss(site="z", target="prior"),
    }.items():
        vae = small_vae()
        pyro.set_rng_seed(0)
        before = float(elbo("trace")(vae.model, vae.guide, digits.test)) / len(digits.test)
        history = fit(vae, digits, loss=loss, steps=600, lr=3e-3, progress=False).history
        pyro.set_rng_seed(0)
        after = float(elbo("trace")(vae.model, vae.guide, digits.test)) / len(digits.test)
        codes = pyro.poutine.trace(vae.guide).get_trace(digits.test).nodes["z"]["value"]
        prior = torch.randn(codes.shape, generator=torch.Generator().manual_seed(0))
        results[name] = (before, after, float(mmd2(codes.detach(), prior)), history)
    for before, after, _, _ in results.values():
        assert after < before - 10, (before, after)
    assert results["elbo+mmd"][2] < results["elbo"][2], {k: v[2] for k, v in results.items()}
    history = results["elbo+mmd"][3]
    assert {"loss/trace", "loss/100*mmd_prior"} <= set(history.columns)
    parts = history["loss/trace"] + history["loss/100*mmd_prior"]
    assert torch.allclose(
        torch.tensor(parts.values), torch.tensor(history["loss"].values), rtol=1e-4
    )


def test_a_generator_refuses_the_elbo():
    data = torch.randn(50, 2)
    with pytest.raises(ValueError, match="implicit model with no likelihood"):
        fit(Generator(2), data, steps=2, progress=False)
    with pytest.raises(ValueError, match="implicit model with no likelihood"):
        fit(Generator(2), data, loss="trace" + MMDLoss(), steps=2, progress=False)


def test_bad_compositions():
    with pytest.raises(TypeError, match="scaled by a number"):
        MMDLoss() * "2"
    with pytest.raises(ValueError, match="finite and >= 0"):
        -1.0 * MMDLoss()
    with pytest.raises(TypeError, match="cannot make a loss term"):
        as_loss(3)
    with pytest.raises(ValueError, match="unknown estimator"):
        MMDLoss() + "trcae"
    with pytest.raises(ValueError, match="unknown two-sample target"):
        MMDLoss(target="posterior")
    with pytest.raises(ValueError, match="unknown loss"):
        fit(Generator(2), torch.randn(10, 2), loss="mdm", progress=False)


def test_site_errors_name_the_problem(digits):
    vae, x = small_vae(), digits.train[:8]
    with pytest.raises(ValueError, match="observed in the model"):
        MMDLoss(site="x")(vae.model, vae.guide, x)
    with pytest.raises(ValueError, match="no sample site 'w'"):
        MMDLoss(site="w", target="prior")(vae.model, vae.guide, x)


def test_mmd_in_an_embedding_space_compares_embedded_samples():
    """GMMN in an autoencoder's code space: both samples pass through ``embed`` first, and the
    embedding's parameters are not the model's (fit does not train them)."""
    torch.manual_seed(0)
    encoder = torch.nn.Linear(2, 3)
    generator, data = Generator(2, hidden_dims=(8,)), torch.randn(64, 2)
    loss = MMDLoss(embed=encoder, scales=(1.0,))
    pyro.set_rng_seed(0)
    value = loss(generator.model, generator.guide, data)
    pyro.set_rng_seed(0)
    generated = pyro.poutine.trace(generator.model).get_trace(data).nodes["x"]["value"]
    expected = 64 * mmd2(encoder(generated), encoder(data), scales=(1.0,))
    assert torch.allclose(value, expected)
    before = [p.detach().clone() for p in encoder.parameters()]
    fit(generator, data, loss=loss, steps=5, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    with pytest.raises(TypeError, match="embed must be callable"):
        MMDLoss(embed=3)
