"""The independent-Bernoulli baseline by hand."""

import math

import pytest
import torch

from ppgen.evaluation import independent_bernoulli_log_lik


def test_independent_bernoulli_baseline_by_hand():
    train = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    # Laplace-smoothed frequencies: (2 + 1) / 5 = 0.6 and (1 + 1) / 5 = 0.4.
    x = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    expected = torch.tensor([math.log(0.6 * 0.4), math.log(0.4 * 0.6)])
    assert torch.allclose(independent_bernoulli_log_lik(train, x), expected)
    with pytest.raises(ValueError, match="binary"):
        independent_bernoulli_log_lik(train, torch.full((1, 2), 0.5))


def test_one_component_mixture_is_the_independent_bernoulli_baseline():
    from ppgen.evaluation import fit_bernoulli_mixture

    torch.manual_seed(0)
    train, x = torch.rand(40, 5).round(), torch.rand(7, 5).round()
    mixture = fit_bernoulli_mixture(train, 1)
    torch.testing.assert_close(mixture.log_prob(x), independent_bernoulli_log_lik(train, x))
    assert mixture.num_parameters == 5


def test_em_never_decreases_the_objective_and_recovers_two_clusters():
    """Two well-separated prototypes: EM finds them (to 0.05) and its trace never goes down."""
    from ppgen.evaluation import fit_bernoulli_mixture

    generator = torch.Generator().manual_seed(0)
    prototypes = torch.tensor([[0.9] * 6 + [0.1] * 6, [0.1] * 6 + [0.9] * 6])
    labels = torch.arange(2000) % 2
    train = torch.bernoulli(prototypes[labels], generator=generator)
    mixture = fit_bernoulli_mixture(train, 2, seed=3)
    trace = torch.tensor(mixture.train_log_lik)
    assert (trace[1:] - trace[:-1] >= -1e-5).all()
    found = mixture.probs[mixture.probs[:, 0].argsort(descending=True)]
    torch.testing.assert_close(found, prototypes, atol=0.05, rtol=0)
    torch.testing.assert_close(mixture.weights, torch.full((2,), 0.5), atol=0.03, rtol=0)


def test_bernoulli_mixture_refuses_bad_input():
    from ppgen.evaluation import fit_bernoulli_mixture

    train = torch.rand(10, 3).round()
    with pytest.raises(ValueError, match="binary"):
        fit_bernoulli_mixture(torch.rand(10, 3), 2)
    with pytest.raises(TypeError, match="num_components must be an int, got True"):
        fit_bernoulli_mixture(train, True)
    with pytest.raises(ValueError, match=r"num_components must be in \[1, 10\], got 11"):
        fit_bernoulli_mixture(train, 11)
    with pytest.raises(ValueError, match="NaN"):
        fit_bernoulli_mixture(torch.full((4, 3), float("nan")), 2)
