"""The kernel two-sample test: is ``x ~ P`` and ``y ~ Q`` consistent with ``P = Q``?

The statistic is the unbiased MMD^2 (:func:`ppgen.inference.losses.mmd2`); its null distribution
comes from permutations (Gretton et al. 2012): under ``P = Q`` the pooled points are exchangeable,
so relabelling them at random draws from the statistic's exact null distribution, and
``p = (1 + #{null >= observed}) / (1 + num_permutations)`` is a valid p-value at any sample size.
The kernel bandwidths are fixed once from the pooled sample (the median heuristic), which is
itself invariant to relabelling, so the test stays calibrated.

All permutations reuse one Gram matrix ``K`` of the pooled sample: for a relabelling ``a``
(1 for points labelled ``x``), the three sums of the statistic are quadratic forms ``a'Ka``,
``a'K(1 - a)`` and ``(1 - a)'K(1 - a)``, computed for a block of permutations with one matrix
product.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..inference.losses.kernels import Kernel, get_kernel
from ..validation import check_data, check_positive_int

#: Permutations evaluated per matrix product (memory: this many rows of the pooled size).
PERMUTATION_BLOCK = 256


@dataclass
class TwoSampleTest:
    """The result of :func:`mmd_test`.

    Attributes:
        statistic: the unbiased MMD^2 of the two samples as given.
        p_value: the permutation p-value.
        null: the statistic under each permutation, ``(num_permutations,)``.
    """

    statistic: float
    p_value: float
    null: torch.Tensor

    def rejects(self, alpha: float = 0.05) -> bool:
        """Whether the test rejects ``P = Q`` at level ``alpha``."""
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
        return self.p_value <= alpha


def mmd_test(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel: str | Kernel = "rbf",
    num_permutations: int = 500,
    seed: int = 0,
    **kernel_options,
) -> TwoSampleTest:
    """Permutation test of ``P = Q`` from samples ``x`` ``(m, d)`` and ``y`` ``(n, d)``.

    Args:
        kernel, kernel_options: as for :func:`~ppgen.inference.losses.mmd2`.
        num_permutations: random relabellings; the smallest attainable p-value is
            ``1 / (1 + num_permutations)``.
        seed: seeds the permutations, so a test is reproducible.
    """
    check_data(x, name="x")
    check_data(y, name="y", event_dim=x.shape[1], dtype=x.dtype, device=x.device)
    if min(len(x), len(y)) < 2:
        raise ValueError("the two-sample test needs at least 2 points in each sample")
    check_positive_int(num_permutations, "num_permutations", allow_none=False)
    kernel = get_kernel(kernel, **kernel_options)
    m, n = len(x), len(y)
    pooled = torch.cat([x, y])
    gram = kernel(pooled, pooled, kernel.resolve_scales(x, y))
    observed = torch.cat([pooled.new_ones(m), pooled.new_zeros(n)])
    statistic = float(_statistics(gram, observed[None], m, n)[0])

    generator = torch.Generator().manual_seed(seed)
    null = []
    for start in range(0, num_permutations, PERMUTATION_BLOCK):
        size = min(PERMUTATION_BLOCK, num_permutations - start)
        order = torch.stack([torch.randperm(m + n, generator=generator) for _ in range(size)])
        labels = (order < m).to(device=pooled.device, dtype=pooled.dtype)  # first m are "x"
        null.append(_statistics(gram, labels, m, n))
    null = torch.cat(null).cpu()
    p_value = (1 + int((null >= statistic).sum())) / (1 + num_permutations)
    return TwoSampleTest(statistic=statistic, p_value=p_value, null=null)


def _statistics(gram: torch.Tensor, labels: torch.Tensor, m: int, n: int) -> torch.Tensor:
    """Unbiased MMD^2 for each row of ``labels`` ``(P, m + n)`` (1 marks the ``x`` sample)."""
    row_sums, diagonal, total = gram.sum(1), gram.diagonal(), gram.sum()
    a_k = labels @ gram  # (P, m + n)
    a_k_a = (a_k * labels).sum(1)
    a_k_1 = labels @ row_sums
    a_k_b = a_k_1 - a_k_a
    b_k_b = total - 2 * a_k_1 + a_k_a
    diag_x = labels @ diagonal
    diag_y = diagonal.sum() - diag_x
    return (a_k_a - diag_x) / (m * (m - 1)) + (b_k_b - diag_y) / (n * (n - 1)) - 2 * a_k_b / (m * n)
