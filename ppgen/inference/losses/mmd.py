"""Maximum mean discrepancy (Gretton et al. 2012) between two samples.

``MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y)`` for ``x, x' ~ P`` and ``y, y' ~ Q`` is zero
exactly when ``P = Q`` for a characteristic kernel (:mod:`.kernels`). Two estimators from samples
``x`` ``(m, d)`` and ``y`` ``(n, d)``:

- unbiased (U-statistic): the within-sample means leave out the diagonal ``k(x_i, x_i)``. Its
  expectation is exactly ``MMD^2``, so it is 0 on average when both samples come from one
  distribution and can be negative;
- biased (V-statistic): every pair, diagonal included; never negative, biased upwards by
  ``O(1/m + 1/n)``.

Both are differentiable in ``x`` and ``y``, so ``mmd2(generated, data)`` trains a generator (GMMN).
"""

from __future__ import annotations

import torch

from ...validation import check_data
from .kernels import Kernel, get_kernel


def mmd2(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel: str | Kernel = "rbf",
    unbiased: bool = True,
    **kernel_options,
) -> torch.Tensor:
    """The MMD^2 estimate between samples ``x`` ``(m, d)`` and ``y`` ``(n, d)``, a scalar.

    ``kernel`` is a name from :data:`.kernels.KERNELS` (with ``kernel_options`` such as
    ``scales=``) or a :class:`~.kernels.Kernel`; the scales are shared by the three Gram matrices
    (the median heuristic on the pooled sample by default).
    """
    check_data(x, name="x")
    check_data(y, name="y", event_dim=x.shape[1], dtype=x.dtype, device=x.device)
    if unbiased and min(len(x), len(y)) < 2:
        raise ValueError("the unbiased MMD^2 needs at least 2 points in each sample")
    kernel = get_kernel(kernel, **kernel_options)
    scales = kernel.resolve_scales(x, y)
    k_xx, k_yy, k_xy = kernel(x, x, scales), kernel(y, y, scales), kernel(x, y, scales)
    m, n = len(x), len(y)
    if unbiased:
        within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
        within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    else:
        within_x, within_y = k_xx.mean(), k_yy.mean()
    return within_x + within_y - 2 * k_xy.mean()
