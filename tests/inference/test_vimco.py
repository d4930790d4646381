"""``vimco``: unbiased for the gradient of the K-sample bound; leave-one-out baselines."""

import math

import pytest
import torch

from ppgen.inference import get_estimator
from ppgen.inference.vimco import leave_one_out_bounds


def test_k2_gradient_is_unbiased_for_the_exact_two_sample_bound(tiny_sbn, check_unbiased):
    x = torch.tensor([1.0, 0.0, 1.0])
    exact = tiny_sbn.exact_gradient(tiny_sbn.two_sample_bound, x)
    vimco = get_estimator("vimco", num_particles=2, max_plate_nesting=1)
    estimates = tiny_sbn.estimated_gradients(vimco, x)
    check_unbiased(estimates, exact)


def test_value_is_the_k_sample_bound(tiny_sbn):
    """E[value] = the exact 2-sample bound (mean over 20000 seeded draws, 4 s.e.)."""
    x = torch.tensor([1.0, 0.0, 1.0])
    vimco = get_estimator("vimco", num_particles=2, max_plate_nesting=1)
    with torch.no_grad():
        parts = vimco.parts(tiny_sbn.model.model, tiny_sbn.model.guide, x.expand(20000, 3))
        values = vimco.surrogate(parts)
        exact = tiny_sbn.two_sample_bound(x)
    assert abs(values.mean() - exact) < 4 * values.std() / math.sqrt(len(values))


def test_leave_one_out_bound_formula():
    log_w = torch.tensor([[0.0], [1.0], [3.0]])  # K = 3, one data point
    result = leave_one_out_bounds(log_w)[:, 0]
    for k in range(3):
        others = [v for j, v in enumerate([0.0, 1.0, 3.0]) if j != k]
        replaced = [sum(others) / 2 if j == k else v for j, v in enumerate([0.0, 1.0, 3.0])]
        expected = math.log(sum(math.exp(v) for v in replaced) / 3)
        assert result[k].item() == pytest.approx(expected, abs=1e-6)


def test_needs_two_particles():
    with pytest.raises(ValueError, match="num_particles >= 2"):
        get_estimator("vimco", num_particles=1)
