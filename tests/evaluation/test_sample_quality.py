"""Sample-based scores against hand-computed values: mode coverage, the nearest-neighbour
memorization check and the kernel-density log-likelihood (against scikit-learn)."""

import math

import numpy as np
import pytest
import torch
from sklearn.neighbors import KernelDensity

from ppgen import load_dataset
from ppgen.evaluation import kde_log_likelihood, memorization_check, mode_coverage

CENTERS = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])


def test_mode_coverage_by_hand():
    """Three modes hit by high-quality samples (one of them twice), one sample just inside the 3
    std radius, one just outside, one far away."""
    std = 0.1
    samples = torch.tensor(
        [[0.0, 0.0], [0.05, 0.0], [2.0, 0.29], [0.0, 2.0], [2.0, 2.31], [1.0, 1.0]]
    )
    result = mode_coverage(samples, CENTERS, std)
    assert result["modes_captured"] == 3 and result["num_modes"] == 4
    assert result["high_quality_fraction"] == pytest.approx(4 / 6)
    assert result["mode_counts"].tolist() == [2, 1, 1, 0]
    share = torch.tensor([0.5, 0.25, 0.25])
    assert result["kl_from_uniform"] == pytest.approx(float((share * (share * 4).log()).sum()))


def test_data_from_the_mixture_capture_every_mode():
    data = load_dataset("grid25")
    result = mode_coverage(data.test[:2500], data.meta["centers"], data.meta["std"])
    assert result["modes_captured"] == 25
    # 3 std in 2-D holds 1 - exp(-4.5) = 98.9% of a Gaussian's mass.
    assert result["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.005)
    assert result["kl_from_uniform"] < 0.01


def test_mode_coverage_bad_input():
    with pytest.raises(ValueError, match="coordinates"):
        mode_coverage(torch.zeros(3, 2), torch.zeros(4, 3), 0.1)
    with pytest.raises(ValueError, match="positive"):
        mode_coverage(torch.zeros(3, 2), CENTERS, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        mode_coverage(torch.full((3, 2), float("nan")), CENTERS, 0.1)
    no_hit = mode_coverage(torch.full((2, 2), 9.0), CENTERS, 0.1)
    assert no_hit["modes_captured"] == 0 and math.isnan(no_hit["kl_from_uniform"])


@pytest.mark.parametrize("offset, scale", [(0.0, 1.0), (10.0, 0.001)])
def test_memorization_check_tells_copies_from_fresh_samples(offset, scale):
    """Also for a tight cluster far from the origin, where float32 distances by the matrix-product
    shortcut lose all precision (regression: they came out 0 and hid everything)."""
    generator = torch.Generator().manual_seed(0)
    train, held_out, fresh = (
        offset + scale * torch.randn(2000, 2, generator=generator) for _ in range(3)
    )
    copies = memorization_check(train[:500], train, held_out)
    assert copies["median_sample_distance"] == 0 and copies["copy_fraction"] == 1.0
    honest = memorization_check(fresh, train, held_out)
    # Fresh draws behave like held-out data: ratio 1 and 5% below the 5% quantile, up to noise
    # (binomial s.e. of the fraction 0.005).
    assert honest["ratio"] == pytest.approx(1.0, abs=0.1)
    assert honest["copy_fraction"] == pytest.approx(0.05, abs=0.02)


def test_kde_log_likelihood_matches_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    samples = torch.randn(300, 2, generator=generator, dtype=torch.float64)
    x = torch.randn(50, 2, generator=generator, dtype=torch.float64)
    ours = kde_log_likelihood(samples, x, bandwidth=0.3)
    sklearn = KernelDensity(bandwidth=0.3).fit(samples.numpy()).score_samples(x.numpy())
    np.testing.assert_allclose(ours.numpy(), sklearn, rtol=1e-10)


def test_kde_bandwidth_choice_on_validation_points():
    generator = torch.Generator().manual_seed(0)
    samples, validation, x = (torch.randn(500, 2, generator=generator) for _ in range(3))
    chosen = kde_log_likelihood(samples, x, bandwidth=[0.01, 0.4, 5.0], validation=validation)
    assert torch.allclose(chosen, kde_log_likelihood(samples, x, bandwidth=0.4))
    # Scott's rule for 500 standard-normal 2-D points: 500^(-1/6) = 0.355, close to 0.4.
    scott = kde_log_likelihood(samples, x)
    assert float(scott.mean()) == pytest.approx(float(chosen.mean()), abs=0.05)


def test_kde_bad_input():
    samples = torch.randn(10, 2)
    with pytest.raises(ValueError, match="validation"):
        kde_log_likelihood(samples, samples, bandwidth=[0.1, 1.0])
    with pytest.raises(ValueError, match="bandwidth"):
        kde_log_likelihood(samples, samples, bandwidth=-1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        kde_log_likelihood(samples, samples, bandwidth="silverman")
    with pytest.raises(ValueError, match="at least 2 samples"):
        kde_log_likelihood(samples[:1], samples)
    with pytest.raises(ValueError, match="features per point"):
        kde_log_likelihood(samples, torch.randn(3, 5))
