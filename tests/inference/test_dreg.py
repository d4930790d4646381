"""``dreg``: the same expected gradient as ``iwae`` (both unbiased for the K-sample bound), and the
guide's signal-to-noise ratio rising with K where IWAE's falls (Rainforth et al. 2018; Tucker et
al. 2018)."""

import pytest
import torch

from ppgen import PPCA, SigmoidBeliefNet, fit, load_dataset
from ppgen.evaluation import gradient_stats
from ppgen.inference import get_estimator


@pytest.fixture(scope="module")
def fitted():
    data = load_dataset("linear_gaussian", data_dim=6, latent_dim=2)
    torch.manual_seed(0)
    model = PPCA(6, 2).init_from_data(data.train)
    fit(model, data, steps=150, lr=0.02, progress=False)  # a decent, inexact guide
    return model, data.train[:100]


def draws(model, x, estimator, repeats):
    params = list(model.parameters())
    rows = []
    for _ in range(repeats):
        grads = torch.autograd.grad(estimator(model.model, model.guide, x) / len(x), params)
        rows.append(torch.cat([g.flatten() for g in grads]))
    return torch.stack(rows)


def test_same_expected_gradient_as_iwae(fitted):
    """Every coordinate of the mean gradient agrees within 4 standard errors of the difference
    (37 coordinates, 400 draws each: false-failure rate ~ 2e-3)."""
    model, x = fitted
    x = x[:20]
    iwae = draws(model, x, get_estimator("iwae", num_particles=5, max_plate_nesting=1), 400)
    dreg = draws(model, x, get_estimator("dreg", num_particles=5, max_plate_nesting=1), 400)
    se = (iwae.var(0) / len(iwae) + dreg.var(0) / len(dreg)).sqrt()
    assert ((iwae.mean(0) - dreg.mean(0)).abs() <= 4 * se + 1e-6).all()


def test_guide_snr_grows_with_k_where_iwae_shrinks(fitted):
    model, x = fitted
    snr = {}
    for name in ("iwae", "dreg"):
        for K in (5, 50):
            estimator = get_estimator(name, num_particles=K, max_plate_nesting=1)
            stats = gradient_stats(model, x, estimator, num_repeats=100).set_index("group")
            snr[name, K] = stats.loc["guide", "snr"]
    assert snr["iwae", 50] < snr["iwae", 5]
    assert snr["dreg", 50] > snr["dreg", 5]
    assert snr["dreg", 50] > 10 * snr["iwae", 50]


def test_value_is_the_iwae_bound(fitted):
    model, x = fitted
    torch.manual_seed(1)
    values = torch.stack(
        [
            get_estimator(name, num_particles=5, max_plate_nesting=1)(
                model.model, model.guide, x
            ).detach()
            for name in ("iwae", "dreg")
            for _ in range(50)
        ]
    ).reshape(2, 50)
    se = (values.var(1) / 50).sum().sqrt()
    assert abs(values[0].mean() - values[1].mean()) < 4 * se


def test_plain_functions_with_pyro_params(normal_pair):
    """Parameters held constant through pyro.param too (a user's own pair)."""
    x = torch.randn(200, 2) + 1.0
    result = fit(
        normal_pair,
        x,
        estimator="dreg",
        num_particles=10,
        steps=800,
        lr=0.02,
        batch_size=None,
        progress=False,
    )
    # MLE of the prior mean is the data mean; the exact posterior mean is (x + loc) / 2.
    assert torch.allclose(result.params["loc"], x.mean(0), atol=0.15)
    assert torch.allclose(result.params["shift"], x.mean(0) / 2, atol=0.15)


def test_refuses_discrete_guides():
    model = SigmoidBeliefNet(4, [2])
    dreg = get_estimator("dreg", num_particles=3, max_plate_nesting=1)
    with pytest.raises(ValueError, match="fully reparameterizable"):
        dreg(model.model, model.guide, torch.ones(2, 4))
