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
