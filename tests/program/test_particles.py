"""Particles drawn one at a time where the vectorized pass fails: the same weights, stacked in the
vectorized layout, said once."""

import warnings

import pyro
import pyro.distributions as dist
import pytest
import torch

from ppgen.program.importance import weight_parts
from ppgen.program.particles import ParticleDraws, SequentialDrawsWarning, stack_traces


def model(x):
    with pyro.plate("data", len(x)):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("obs", dist.Normal(z, 1.0), obs=x)


def exact_guide(x):
    """The exact posterior, N(x / 2, 1 / 2): every importance weight is p(x) exactly."""
    with pyro.plate("data", len(x)):
        pyro.sample("z", dist.Normal(x / 2, 0.5**0.5))


def asserting_model(x):
    """The same model, asserting its own shapes (as Pyro's tests/infer programs do)."""
    with pyro.plate("data", len(x)):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        assert z.shape == x.shape, z.shape
        pyro.sample("obs", dist.Normal(z, 1.0), obs=x)


def test_with_the_exact_posterior_every_draw_weighs_log_p_in_both_modes():
    x = torch.randn(6)
    exact = dist.Normal(0.0, 2**0.5).log_prob(x)  # (6,)
    vectorized = weight_parts(model, exact_guide, (x,), {}, 5, "data", 1).log_w
    sequential = weight_parts(
        model, exact_guide, (x,), {}, 5, "data", 1, draws=ParticleDraws(sequential=True)
    ).log_w
    for log_w in (vectorized, sequential):
        assert log_w.shape == (5, 6)
        torch.testing.assert_close(log_w, exact.expand(5, 6), rtol=0, atol=1e-5)


def test_a_program_that_asserts_its_shapes_falls_back_once_and_says_where():
    x = torch.randn(6)
    draws = ParticleDraws()
    with pytest.warns(SequentialDrawsWarning, match=r"after site 'z'.*AssertionError"):
        first = weight_parts(asserting_model, exact_guide, (x,), {}, 4, "data", 1, draws=draws)
    assert draws.sequential and first.log_w.shape == (4, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the choice is kept: no second attempt, no second warning
        weight_parts(asserting_model, exact_guide, (x,), {}, 4, "data", 1, draws=draws)


def test_sequential_draws_are_independent_and_keep_their_gradients():
    """K draws of a non-exact guide differ (independent particles), and the stacked weights
    still carry the reparameterized path to the guide's parameter."""
    loc = torch.tensor(0.3, requires_grad=True)

    def guide(x):
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(loc.expand(len(x)), 1.0))

    x = torch.randn(3)
    parts = weight_parts(model, guide, (x,), {}, 4, "data", 1, draws=ParticleDraws(True))
    assert parts.log_w.std(0).min() > 0
    (grad,) = torch.autograd.grad(parts.log_w.sum(), loc)
    assert torch.isfinite(grad) and grad != 0


def test_stacked_traces_have_the_vectorized_layout():
    x = torch.randn(6)
    traces = [pyro.poutine.trace(exact_guide).get_trace(x) for _ in range(3)]
    stacked = stack_traces(traces, sample_dim=-2)
    site = stacked.nodes["z"]
    assert site["value"].shape == (3, 6)
    assert torch.equal(site["value"][1], traces[1].nodes["z"]["value"])
    assert any(f.name == "_ppgen_samples" and f.dim == -2 and f.size == 3
               for f in site["cond_indep_stack"])  # fmt: skip
