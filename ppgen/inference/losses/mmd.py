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
:class:`MMDLoss` makes that a composable SVI loss on a model's or a guide's sample sites
(:mod:`.sites`): a :class:`~ppgen.models.Generator` trained by MMD to the data (GMMN, Li et al.
2015), optionally in an autoencoder's code space (``embed=``), or the MMD-VAE / InfoVAE regularizer
on the aggregate posterior q(z) against the prior p(z) (Zhao et al. 2019).
"""

from __future__ import annotations

import torch

from ...registry import LOSSES
from ...validation import check_data
from .compose import Loss
from .kernels import Kernel, get_kernel
from .sites import check_target, two_samples


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
    return mmd2_statistic(x, y, get_kernel(kernel, **kernel_options), unbiased)


def mmd2_statistic(x: torch.Tensor, y: torch.Tensor, kernel: Kernel, unbiased: bool = True):
    """:func:`mmd2` without the input checks, for training loops (the checks synchronize with
    the device)."""
    if unbiased and min(len(x), len(y)) < 2:
        raise ValueError("the unbiased MMD^2 needs at least 2 points in each sample")
    scales = kernel.resolve_scales(x, y)
    k_xx, k_yy, k_xy = kernel(x, x, scales), kernel(y, y, scales), kernel(x, y, scales)
    m, n = len(x), len(y)
    if unbiased:
        within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
        within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    else:
        within_x, within_y = k_xx.mean(), k_yy.mean()
    return within_x + within_y - 2 * k_xy.mean()


#: Bandwidths of MMDLoss's default RBF mixture, as multiples of the median distance: a ladder
#: down to 1/64 of it. A generator needs the fine scales to put its mass onto narrow modes; with
#: the coarse default of :func:`mmd2` alone it matches only the overall spread.
LOSS_MULTIPLIERS = tuple(2.0**-k for k in range(6, -1, -1))


class MMDLoss(Loss):
    """MMD^2 between a generated sample and a reference sample as an SVI loss.

    Args:
        site: the sample site holding the generated points: ``"x"`` of a Generator, or a latent
            such as a VAE's ``"z"``.
        target: ``"data"`` (the model's ``site`` against the data batch) or ``"prior"`` (the
            guide's draws at ``site``, the aggregate posterior, against the model's prior).
        kernel, kernel_options: see :func:`mmd2`; the default is an RBF mixture with bandwidths
            the median distance times :data:`LOSS_MULTIPLIERS`.
        unbiased: the U-statistic (default) or the V-statistic.
        embed: a callable applied to both samples before the kernel, e.g. a trained encoder's
            mean, to match distributions in an autoencoder's code space. Its parameters are not
            trained by ``fit``.

    The value is ``batch_size * MMD^2`` so that, like the ELBO terms it composes with, it is
    summed over the batch and ``fit``'s per-point loss is MMD^2 itself: in ``elbo + lam * mmd``,
    ``lam`` weighs MMD^2 against the per-datapoint negative ELBO, as in InfoVAE.
    """

    def __init__(
        self,
        site: str = "x",
        target: str = "data",
        kernel: str | Kernel = "rbf",
        unbiased: bool = True,
        embed=None,
        **kernel_options,
    ):
        self.site, self.target = site, check_target(target)
        if kernel == "rbf" and not kernel_options:
            kernel_options = {"multipliers": LOSS_MULTIPLIERS}
        self.kernel = get_kernel(kernel, **kernel_options)
        self.unbiased = unbiased
        if embed is not None and not callable(embed):
            raise TypeError(f"embed must be callable, got {embed!r}")
        self.embed = embed
        self.name = "mmd" if target == "data" else "mmd_prior"

    def __call__(self, model, guide, x, **kwargs):
        generated, reference = two_samples(model, guide, x, self.site, self.target, **kwargs)
        if self.embed is not None:
            generated, reference = self.embed(generated), self.embed(reference)
        return len(x) * mmd2_statistic(generated, reference, self.kernel, self.unbiased)


LOSSES.register(
    "mmd", MMDLoss, description="MMD^2 between a Generator's samples and the data (GMMN)"
)
