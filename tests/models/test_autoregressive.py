"""NADE, RNADE and MADE: exact normalisation, the autoregressive property, ensembles as mixtures,
ancestral sampling, and refusals.

Exact checks: the binary models' ``log_prob`` sums to 1 over all 2^D vectors (enumeration);
RNADE's integrates to 1 over a 2-D grid (quadrature); every member's conditional ``d`` has an
exactly zero autograd Jacobian with respect to the inputs at or after ``d`` in its ordering.
"""

import math

import pyro
import pytest
import torch

from ppgen.evaluation import log_likelihood
from ppgen.models import MADE, NADE, RNADE
from ppgen.models.nade import hidden_pre_activation
from ppgen.models.sbn import all_binary_states


def _nade_with_mask_inputs(k: int) -> NADE:
    """A NADE whose mask-input weights are random, not their zero start: the checks below then
    cover the running sum of ``U``'s columns too."""
    model = NADE(6, hidden_dim=7, num_orderings=k, mask_inputs=True)
    with torch.no_grad():
        model.U.normal_()
    return model


BINARY = {
    "nade": _nade_with_mask_inputs,
    "made": lambda k: MADE(6, hidden_dims=(9, 8), num_masks=k),
}


def build(name, k):
    torch.manual_seed(0)
    if name == "rnade":
        model = RNADE(4, hidden_dim=5, num_components=3, num_orderings=k, mask_inputs=True)
        with torch.no_grad():
            model.U.normal_()
        return model
    return BINARY[name](k)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_log_prob_sums_to_one_over_all_vectors(name, k):
    model = build(name, k)
    states = all_binary_states(6)  # (64, 6)
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(states), 0)
        members = model.member_log_probs(states)
    assert abs(float(total)) < 1e-5
    for member in members:  # each ordering alone is normalised too
        assert abs(float(torch.logsumexp(member, 0))) < 1e-5


@pytest.mark.parametrize("k", [1, 2])
def test_rnade_integrates_to_one_in_two_dimensions(k):
    torch.manual_seed(0)
    model = RNADE(2, hidden_dim=6, num_components=3, num_orderings=k, mask_inputs=True)
    with torch.no_grad():
        model.U.normal_()
    grid = torch.linspace(-14.0, 14.0, 561, dtype=torch.float64)  # spacing 0.05
    points = torch.cartesian_prod(grid, grid)  # (561^2, 2)
    with torch.no_grad():
        density = model.double().log_prob(points).exp()
    mass = float(density.sum() * (grid[1] - grid[0]) ** 2)
    assert mass == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", ["nade", "made", "rnade"])
def test_each_conditional_ignores_the_inputs_at_or_after_it(name):
    """d(conditional d's parameters) / d(x_j) is exactly 0 unless j comes before d."""
    model = build(name, 4)
    # Inputs off {0, 1}: the conditionals are functions of real inputs, and a ReLU unit exactly at
    # 0 (all inputs 0) would have a zero derivative whatever the masks.
    x = torch.rand(model.data_dim, dtype=torch.float64) + 0.5
    model = model.double()
    for member, order in enumerate(model.orderings):
        index = torch.tensor(member)

        def parameters(v, index=index):
            return torch.cat(
                [p.reshape(model.data_dim, -1) for p in model.conditionals(v, index)], -1
            )

        jacobian = torch.autograd.functional.jacobian(parameters, x)  # (D, P, D)
        rank = torch.empty(model.data_dim, dtype=torch.long)
        rank[order] = torch.arange(model.data_dim)
        later = rank[None, :] >= rank[:, None]  # later[d, j]: x_j is not before x_d
        assert (jacobian.permute(0, 2, 1)[later] == 0).all(), f"member {member}"
        assert jacobian.abs().sum() > 0  # not vacuous: earlier inputs do matter


@pytest.mark.parametrize("name", sorted(BINARY))
def test_the_ensemble_is_the_uniform_mixture_of_its_members(name):
    model = build(name, 3)
    x = all_binary_states(6)[::7]
    members = model.member_log_probs(x)  # (3, batch)
    expected = torch.logsumexp(members, 0) - math.log(3)
    torch.testing.assert_close(model.log_prob(x), expected)
    # The Pyro program agrees: with the member fixed, the joint is log(1/3) + log p_k(x) ...
    for k in range(3):
        choice = torch.full((len(x),), k)
        conditioned = pyro.poutine.condition(model.model, {model.choice_site: choice})
        trace = pyro.poutine.trace(conditioned).get_trace(x)
        trace.compute_log_prob()
        torch.testing.assert_close(
            trace.nodes["x"]["log_prob"] + trace.nodes[model.choice_site]["log_prob"],
            members[k] - math.log(3),
        )
    # ... and with it summed out, the marginal program observes x under the exact mixture.
    trace = pyro.poutine.trace(model.marginal_model).get_trace(x)
    torch.testing.assert_close(trace.nodes["x"]["fn"].log_prob(x), expected)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_order_agnostic_elbo_is_the_mean_over_members(name):
    """Trace_ELBO with the prior guide is E_k[log p_k(x)]: exact by enumeration of the choice."""
    model = build(name, 3)
    x = all_binary_states(6)[5:9]
    elbo = pyro.infer.TraceEnum_ELBO(max_plate_nesting=1)
    enumerated = pyro.infer.config_enumerate(model.guide, "parallel")
    loss = elbo.differentiable_loss(model.model, enumerated, x)
    torch.testing.assert_close(loss, -model.member_log_probs(x).mean(0).sum(), rtol=1e-5, atol=0)


def test_ancestral_samples_follow_the_exact_probabilities():
    """20000 draws of a 3-bit NADE ensemble: each of the 8 frequencies within 4.5 standard
    errors of its exact probability (false-failure rate below 1e-4 over the 8 cells)."""
    torch.manual_seed(1)
    model = NADE(3, hidden_dim=4, num_orderings=2)
    with torch.no_grad():
        model.W.mul_(4)  # strong dependence between bits, so ordering matters
    draws = model.sample(20000)
    states = all_binary_states(3)
    counts = (draws[:, None, :] == states[None]).all(-1).sum(0).double()
    probs = model.log_prob(states).exp().double().detach()
    stderr = (probs * (1 - probs) / 20000).sqrt()
    assert ((counts / 20000 - probs).abs() < 4.5 * stderr).all(), (counts / 20000, probs)


def test_rnade_samples_match_its_density():
    """Mean of 20000 RNADE draws vs the mean by quadrature, within 5 standard errors."""
    torch.manual_seed(2)
    model = RNADE(2, hidden_dim=6, num_components=3, num_orderings=2).double()
    draws = model.sample(20000)
    grid = torch.linspace(-14.0, 14.0, 561, dtype=torch.float64)
    points = torch.cartesian_prod(grid, grid)
    with torch.no_grad():
        weights = model.log_prob(points).exp() * (grid[1] - grid[0]) ** 2
    mean = (weights[:, None] * points).sum(0)
    stderr = draws.std(0) / math.sqrt(len(draws))
    assert ((draws.mean(0) - mean).abs() < 5 * stderr).all()


@pytest.mark.parametrize("name", ["nade", "made", "rnade"])
def test_log_likelihood_is_the_exact_log_prob(name):
    model = build(name, 3)
    x = torch.rand(5, model.data_dim)
    x = x if name == "rnade" else x.round()
    estimate = log_likelihood(model, x, num_samples=200)
    # The importance-sampled estimate with the prior over members as proposal is unbiased for
    # p(x); at S = 200 over 3 members it equals the exact mixture up to sampling noise.
    torch.testing.assert_close(estimate, model.log_prob(x).detach(), rtol=0, atol=0.1)


def test_bad_options_are_refused_by_name():
    with pytest.raises(ValueError, match="num_orderings must be a positive int, got True"):
        NADE(5, num_orderings=True)
    with pytest.raises(ValueError, match="hidden_dim must be a positive int, got 0"):
        RNADE(5, hidden_dim=0)
    with pytest.raises(ValueError, match="num_masks must be a positive int, got 2.0"):
        MADE(5, num_masks=2.0)
    with pytest.raises(ValueError, match="MADE needs data_dim >= 2"):
        MADE(1)
    with pytest.raises(ValueError, match="member 4 does not exist: this model has 2"):
        NADE(5, num_orderings=2).member_log_prob(torch.zeros(1, 5), 4)
    with pytest.raises(ValueError, match="binary"):
        NADE(3).log_prob(torch.full((2, 3), 0.5))
    with pytest.raises(TypeError, match="mask_inputs must be True, False or None, got 1"):
        NADE(3, mask_inputs=1)


def test_the_mask_input_of_conditional_t_sums_the_columns_of_the_dimensions_before_it():
    """hidden_pre_activation, term by term: c + sum_{s<t} (W[:, o_s] x_{o_s} + U[:, o_s])."""
    torch.manual_seed(0)
    orderings = torch.stack([torch.arange(5), torch.randperm(5)])  # (K=2, D=5)
    W, U, c, x = torch.randn(3, 5), torch.randn(3, 5), torch.randn(3), torch.rand(4, 5)
    got = hidden_pre_activation(x, orderings, W, c, U)  # (batch 4, K 2, D 5, H 3)
    for k, order in enumerate(orderings):
        for t in range(5):
            before = order[:t]
            expected = c + (W[:, before] * x[:, None, before]).sum(-1) + U[:, before].sum(-1)
            torch.testing.assert_close(got[:, k, t], expected)


def test_nade_gives_ensembles_the_input_mask_by_default():
    """Uria et al. (2014): an order-agnostic NADE needs to know which dimensions are present."""
    assert NADE(4, num_orderings=2).mask_inputs and not NADE(4).mask_inputs
    assert not hasattr(NADE(4), "U")
    assert RNADE(4, num_orderings=2).mask_inputs and not RNADE(4).mask_inputs
