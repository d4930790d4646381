"""Characteristic kernels for two-sample criteria (MMD), as functions of squared distances.

Each kernel maps two samples ``x`` ``(m, d)`` and ``y`` ``(n, d)`` to the Gram matrix ``(m, n)``.
One bandwidth rarely suits every scale of a distribution, so each kernel is a sum over several
scales (GMMN, Li et al. 2015):

- ``"rbf"``: ``sum_s exp(-||x - y||^2 / (2 s^2))`` over bandwidths ``s``;
- ``"imq"``: inverse multiquadric ``sum_c c / (c + ||x - y||^2)``, heavy-tailed, so far-apart
  samples still get a gradient (Tolstikhin et al. 2018, WAE);
- ``"rq"``: rational quadratic ``sum_a (1 + ||x - y||^2 / (2 a l^2))^(-a)``, a scale mixture of
  RBFs with lengthscale ``l``.

Without explicit scales they follow the **median heuristic** (Gretton et al. 2012): the median
distance between points of the pooled sample, times ``multipliers``. It is recomputed per call and
held constant (no gradient), so it adapts as a generator moves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ...validation import check_name

KERNELS = ("rbf", "imq", "rq")
#: Default multiples of the median distance used as bandwidths / scales.
MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)
#: The median heuristic inside a kernel looks at most this many points (evenly strided through
#: the pooled sample): the median of their ~33k distances sets a bandwidth as well as the full
#: sample's would, without sorting a million distances per training step.
MEDIAN_POINTS = 256
#: Default exponents of the rational-quadratic mixture.
RQ_ALPHAS = (0.2, 0.5, 1.0, 2.0, 5.0)


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``||x_i - y_j||^2``, shape ``(m, n)``, clamped at 0 against rounding."""
    return (x.pow(2).sum(-1)[:, None] + y.pow(2).sum(-1)[None, :] - 2 * x @ y.T).clamp_min(0)


@torch.no_grad()
def median_heuristic(
    x: torch.Tensor, y: torch.Tensor | None = None, max_points: int | None = None
) -> torch.Tensor:
    """The median Euclidean distance between distinct points of the pooled sample ``x`` (and
    ``y``), a scalar tensor (Gretton et al. 2012); over an evenly strided subsample of at most
    ``max_points`` points when given."""
    pooled = x if y is None else torch.cat([x, y])
    if max_points is not None and len(pooled) > max_points:
        pooled = pooled[:: math.ceil(len(pooled) / max_points)]
    if len(pooled) < 2:
        raise ValueError("the median heuristic needs at least 2 points")
    d2 = squared_distances(pooled, pooled)
    off_diagonal = d2[~torch.eye(len(pooled), dtype=torch.bool, device=d2.device)]
    return off_diagonal.median().sqrt().clamp_min(1e-12)


class Kernel:
    """``kernel(x, y) -> (m, n)`` Gram matrix; a sum over ``scales`` (the median heuristic times
    ``multipliers`` when ``scales`` is ``None``)."""

    name = "kernel"

    def __init__(
        self, scales: Sequence[float] | None = None, multipliers: Sequence[float] = MULTIPLIERS
    ):
        if scales is not None and (len(scales) == 0 or any(s <= 0 for s in scales)):
            raise ValueError(f"scales must be positive numbers, got {scales!r}")
        self.scales = None if scales is None else tuple(float(s) for s in scales)
        self.multipliers = tuple(multipliers)

    def resolve_scales(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.scales is not None:
            return torch.tensor(self.scales, dtype=x.dtype, device=x.device)
        median = median_heuristic(x, y, max_points=MEDIAN_POINTS)
        return median * torch.tensor(self.multipliers, dtype=x.dtype, device=x.device)

    def from_squared_distances(self, d2: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, y: torch.Tensor, scales=None) -> torch.Tensor:
        scales = self.resolve_scales(x, y) if scales is None else scales
        return self.from_squared_distances(squared_distances(x, y), scales)

    def __repr__(self) -> str:
        scales = "median heuristic" if self.scales is None else self.scales
        return f"{type(self).__name__}(scales={scales})"


class RBFMixture(Kernel):
    """Sum of Gaussian (RBF) kernels with bandwidths ``scales``."""

    name = "rbf"

    def from_squared_distances(self, d2, scales):
        # A loop over the few scales keeps memory at one (m, n) matrix, not (m, n, scales).
        return sum(torch.exp(-d2 / (2 * s**2)) for s in scales)


class InverseMultiquadric(Kernel):
    """Sum of inverse multiquadric kernels ``c / (c + d^2)`` with ``c = scale^2``."""

    name = "imq"

    def from_squared_distances(self, d2, scales):
        return sum(s**2 / (s**2 + d2) for s in scales)


class RationalQuadratic(Kernel):
    """Sum over ``alphas`` of ``(1 + d^2 / (2 alpha l^2))^(-alpha)``, ``l`` the (first) scale."""

    name = "rq"

    def __init__(self, scales=None, multipliers=(1.0,), alphas: Sequence[float] = RQ_ALPHAS):
        super().__init__(scales, multipliers)
        if not alphas or any(a <= 0 for a in alphas):
            raise ValueError(f"alphas must be positive numbers, got {alphas!r}")
        self.alphas = tuple(float(a) for a in alphas)

    def from_squared_distances(self, d2, scales):
        lengthscale = scales[0]
        return sum((1 + d2 / (2 * a * lengthscale**2)).pow(-a) for a in self.alphas)


_CLASSES = {"rbf": RBFMixture, "imq": InverseMultiquadric, "rq": RationalQuadratic}


def get_kernel(kernel: str | Kernel = "rbf", **options) -> Kernel:
    """A kernel by name (``"rbf"``, ``"imq"``, ``"rq"``) with its options, or a kernel as is."""
    if isinstance(kernel, Kernel):
        if options:
            raise ValueError("options go with a kernel name, not with a Kernel object")
        return kernel
    check_name(kernel, KERNELS, "kernel")
    return _CLASSES[kernel](**options)
