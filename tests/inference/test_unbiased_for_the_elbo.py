"""The estimators that claim to be unbiased for the ELBO's gradient agree with the exact gradient,
on (a) a sigmoid belief net with 8 binary latents (256 states enumerated), (b) a user's pair over a
plate of another name with a categorical and a Bernoulli latent (the guide's Bernoulli depends on
the categorical; one-hot for REBAR and RELAX, which relax it, a two-class Bernoulli for ARM and
DisARM, which flip Bernoulli draws, an integer Categorical for the rest), and (c) a user's pair with
a global continuous latent beside local discrete ones (exact in the discrete latents, Monte Carlo in
the continuous one, with its own error).

Each check: every coordinate of the mean of R estimates within 4.5 standard errors of the exact
value (per-coordinate false-failure rate 7e-6 under normality; with at most 118 coordinates, under
1e-3 per test). Each also shows the estimator is genuinely noisy, so the check has teeth.
"""

import pytest
import torch

from ppgen import fit
from ppgen.inference import get_estimator
from ppgen.program.errors import ProgramError

NUM_SE = 4.5
# name -> num_particles; every estimator here claims unbiasedness for the ELBO's gradient.
UNBIASED = {"rloo": 3, "arm": 1, "disarm": 1, "tvo": 3, "rebar": 1, "relax": 1}
OPTIONS = {"tvo": {"num_partitions": 1}}  # TVO with one partition is the ELBO
# The antithetic estimators flip Bernoulli draws; REBAR and RELAX relax Bernoulli and one-hot ones.
FAMILY = {"arm": "bernoulli", "disarm": "bernoulli", "rebar": "onehot", "relax": "onehot"}


def estimator(name):
    return get_estimator(
        name, num_particles=UNBIASED[name], max_plate_nesting=1, **OPTIONS.get(name, {})
    )


def pair_estimates(loss, model, guide, x, leaves, copies, repeats):
    """``(repeats, P)``: each the gradient of the loss on ``copies`` replicas of ``x``, divided
    by ``copies`` (an estimate of the gradient for ``x``)."""
    batch = x.repeat(copies, *([1] * (x.dim() - 1)))
    rows = []
    for _ in range(repeats):
        grads = torch.autograd.grad(loss(model, guide, batch), leaves, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(leaves, grads)]
        rows.append(torch.cat([g.flatten() for g in grads]) / copies)
    return torch.stack(rows)


@pytest.mark.parametrize("name", sorted(UNBIASED))
def test_unbiased_on_an_sbn_with_eight_binary_latents(name, sbn_of_size, check_unbiased):
    sbn = sbn_of_size(seed=1, data_dim=6, latent_dim=8)
    x = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    exact = sbn.exact_gradient(sbn.elbo, x)
    estimates = sbn.estimated_gradients(estimator(name), x, copies=100, repeats=200)
    check_unbiased(estimates, exact, num_se=NUM_SE)
    assert estimates.std(0).max() > 0.05


@pytest.mark.parametrize("name", sorted(UNBIASED))
def test_unbiased_on_a_users_pair_with_categorical_and_bernoulli_latents(
    name, mixed_pair, check_unbiased
):
    pair = mixed_pair(FAMILY.get(name, "categorical"), seed=2)
    exact = torch.autograd.grad(-pair.elbo(pair.x), pair.leaves())
    exact = torch.cat([g.flatten() for g in exact])
    estimates = pair_estimates(
        estimator(name), pair.model, pair.guide, pair.x, pair.leaves(), copies=50, repeats=200
    )
    check_unbiased(estimates, exact, num_se=NUM_SE)
    assert estimates.std(0).max() > 0.05


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_an_integer_categorical_guide_site_is_refused_before_training(name, mixed_pair):
    pair = mixed_pair("categorical")
    with pytest.raises(ProgramError, match=r"Bernoulli.* guide sites.*'c' \(Categorical\)"):
        fit((pair.model, pair.guide), pair.x, estimator=name, steps=1, progress=False)


@pytest.mark.parametrize("name", sorted(UNBIASED))
def test_unbiased_with_a_global_continuous_latent(name, global_pair):
    """Mean of 1500 estimates against the mean of 400 reference gradients (exact in h), each
    with its standard error: |difference| within 4.5 combined standard errors."""
    pair = global_pair(seed=3)
    reference = pair.reference_gradients(400)
    estimates = pair_estimates(
        estimator(name), pair.model, pair.guide, pair.x, pair.leaves(), copies=1, repeats=1500
    )
    difference = estimates.mean(0) - reference.mean(0)
    se = (estimates.var(0) / len(estimates) + reference.var(0) / len(reference)).sqrt()
    z = difference.abs() / (se + 1e-12)
    assert (difference.abs() <= NUM_SE * se + 1e-6).all(), f"max |z| {z.max():.2f}"
    assert estimates.std(0).max() > 0.05
