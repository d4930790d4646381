"""The MMD permutation test: its statistic is the unbiased MMD^2, each permuted statistic is the
MMD^2 of the relabelled samples, it is calibrated under the null and rejects separated samples."""

import pytest
import torch

from ppgen.evaluation import mmd_test
from ppgen.evaluation.two_sample import _statistics
from ppgen.inference.losses import get_kernel, mmd2


def test_statistic_is_the_unbiased_mmd2():
    torch.manual_seed(0)
    x, y = torch.randn(30, 2, dtype=torch.float64), torch.randn(20, 2, dtype=torch.float64) + 0.5
    result = mmd_test(x, y, scales=(0.5, 1.0, 2.0), num_permutations=10)
    assert result.statistic == pytest.approx(float(mmd2(x, y, scales=(0.5, 1.0, 2.0))), rel=1e-12)


def test_each_permuted_statistic_is_the_mmd2_of_the_relabelled_samples():
    torch.manual_seed(1)
    x, y = torch.randn(7, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    pooled, kernel = torch.cat([x, y]), get_kernel("imq", scales=(1.0, 2.0))
    gram = kernel(pooled, pooled)
    order = torch.randperm(12)
    labels = (order < 7).double()
    expected = mmd2(pooled[labels == 1], pooled[labels == 0], kernel)
    assert float(_statistics(gram, labels[None], 7, 5)[0]) == pytest.approx(float(expected))


def test_false_positive_rate_under_the_null_is_calibrated():
    """400 seeded null trials (both samples N(0, I)) at alpha = 0.05: the rejection rate lies in
    [0.02, 0.08] (the binomial standard error at 0.05 is 0.011)."""
    generator = torch.Generator().manual_seed(0)
    rejections = 0
    for trial in range(400):
        x = torch.randn(40, 2, generator=generator)
        y = torch.randn(40, 2, generator=generator)
        rejections += mmd_test(x, y, num_permutations=199, seed=trial).rejects(0.05)
    rate = rejections / 400
    assert 0.02 <= rate <= 0.08, rate


def test_rejects_clearly_separated_distributions():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(100, 2, generator=generator)
    y = torch.randn(100, 2, generator=generator) + torch.tensor([1.0, 0.0])
    result = mmd_test(x, y, num_permutations=499)
    assert result.p_value == pytest.approx(1 / 500)  # no permutation reaches the statistic
    assert result.rejects(0.01) and result.null.shape == (499,)


def test_is_reproducible_by_seed():
    x, y = torch.randn(20, 2), torch.randn(20, 2)
    assert mmd_test(x, y, seed=3).p_value == mmd_test(x, y, seed=3).p_value


def test_bad_input():
    x = torch.randn(10, 2)
    with pytest.raises(ValueError, match="features per point"):
        mmd_test(x, torch.randn(10, 3))
    with pytest.raises(ValueError, match="at least 2 points"):
        mmd_test(x, torch.randn(1, 2))
    with pytest.raises(ValueError, match="num_permutations"):
        mmd_test(x, x, num_permutations=0)
    with pytest.raises(ValueError, match="NaN"):
        mmd_test(x, torch.full((10, 2), float("nan")))
    with pytest.raises(ValueError, match="unknown kernel"):
        mmd_test(x, x, kernel="gauss")
    with pytest.raises(ValueError, match="alpha"):
        mmd_test(x, x).rejects(1.5)
