"""``iwae``: K = 1 is the ELBO; the bound rises with K towards PPCA's exact log p(x) and never
exceeds it beyond Monte Carlo error; per-datapoint values do not depend on the batch size."""

import math

import pytest
import torch

from ppgen import PPCA, fit, load_dataset
from ppgen.inference import get_estimator


@pytest.fixture(scope="module")
def setup():
    data = load_dataset("linear_gaussian", data_dim=6, latent_dim=2)
    torch.manual_seed(0)
    model = PPCA(6, 2).init_from_data(data.train)
    # A short fit: a decent but inexact guide, so the bounds are visibly below log p(x).
    fit(model, data, steps=150, lr=0.02, progress=False)
    return model, data.test[:200]


def per_datapoint(model, x, K, repeats):
    """(repeats, batch) per-datapoint IWAE values."""
    iwae = get_estimator("iwae", num_particles=K, max_plate_nesting=1)
    with torch.no_grad():
        return torch.stack(
            [iwae.surrogate(iwae.parts(model.model, model.guide, x)) for _ in range(repeats)]
        )


def test_k1_equals_the_elbo_in_expectation(setup):
    model, x = setup
    from ppgen.evaluation import elbo

    values = per_datapoint(model, x, 1, 200).mean(1)  # mean over data, per repeat
    reference = elbo(model, x, num_samples=2000).mean()
    assert abs(values.mean() - reference) < 4 * values.std() / math.sqrt(len(values)) + 0.01


def test_bound_rises_with_k_and_stays_below_exact_log_p(setup):
    model, x = setup
    with torch.no_grad():
        exact = model.log_prob(x).mean()
    means, ses = [], []
    for K in (1, 5, 50, 500):
        values = per_datapoint(model, x, K, 40).mean(1)
        means.append(values.mean())
        ses.append(values.std() / math.sqrt(len(values)))
        assert values.mean() <= exact + 4 * ses[-1], K
    for k in range(3):
        assert means[k + 1] > means[k] - 4 * (ses[k] + ses[k + 1])
    assert means[0] < exact - 0.05 and exact - means[-1] < (exact - means[0]) / 5


def test_per_datapoint_value_does_not_depend_on_batch_size(setup):
    """Datapoint 0 alone (batch 1) or among 200 (batch 200): equal means within 4 s.e."""
    model, x = setup
    alone = per_datapoint(model, x[:1], 5, 2000)[:, 0]
    batched = per_datapoint(model, x, 5, 2000)[:, 0]
    se = math.sqrt(alone.var() / len(alone) + batched.var() / len(batched))
    assert abs(alone.mean() - batched.mean()) < 4 * se


def test_a_discrete_guide_gets_an_unbiased_gradient_of_the_k_sample_bound(tiny_sbn, check_unbiased):
    """Issue 26: iwae on binary latents (refused before, where Pyro's RenyiELBO trains them):
    the score-function term makes the gradient unbiased for the exact 2-sample bound, summed
    over the 4 latent states (the test VIMCO passes too, 4 standard errors per coordinate)."""
    x = torch.tensor([1.0, 0.0, 1.0])
    exact = tiny_sbn.exact_gradient(tiny_sbn.two_sample_bound, x)
    iwae = get_estimator("iwae", num_particles=2, max_plate_nesting=1)
    check_unbiased(tiny_sbn.estimated_gradients(iwae, x), exact)


def test_without_the_score_function_term_the_discrete_gradient_is_biased(tiny_sbn):
    """The check above can fail: the pathwise part alone (what RenyiELBO(alpha=0) computes for a
    discrete guide) misses the guide's gradient, far beyond the Monte Carlo error."""
    x = torch.tensor([1.0, 0.0, 1.0])
    exact = tiny_sbn.exact_gradient(tiny_sbn.two_sample_bound, x)
    iwae = get_estimator("iwae", num_particles=2, max_plate_nesting=1)

    def pathwise(model, guide, batch):
        return -iwae.bound(iwae.parts(model, guide, batch).log_w).sum()

    estimates = tiny_sbn.estimated_gradients(pathwise, x, repeats=100)
    z = (estimates.mean(0) - exact) / (estimates.std(0) / math.sqrt(len(estimates)) + 1e-12)
    assert z.abs().max() > 10, z.abs().max()
