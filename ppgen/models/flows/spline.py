"""Neural spline flows (Durkan et al. 2019): ``nsf`` (coupling) and ``nsf-ar`` (autoregressive).

Each coordinate is mapped by a monotonic rational-quadratic spline with ``count_bins`` bins on
``[-bound, bound]`` (identity outside), whose knots come from a network: a coupling network over
the other half of the coordinates (``nsf``), or a MADE network over the preceding coordinates
(``nsf-ar``, used in the direction that makes density evaluation one pass, as MAF). Splines are far
more flexible per layer than affine maps, which matters for multi-modal densities.

Two departures from Pyro's defaults, both measured: Pyro's splines default to *rational-linear*
splines (Dolatabadi et al. 2020), and its spline coupling also passes the conditioning half through
a randomly initialised unconditional spline; together they give a freshly built flow needle-thin
density spikes (log-density 6, rising with the resolution of the grid it is looked at on). Here
the splines are Durkan et al.'s rational-quadratic ones (``order="quadratic"``) and the
conditioning half is left unchanged (``identity=True``), as in the paper.
"""

from __future__ import annotations

from pyro.distributions.transforms import SplineAutoregressive, SplineCoupling
from pyro.nn import AutoRegressiveNN, DenseNN

from ...registry import FLOWS
from .autoregressive import autoregressive_order
from .flow import Flow
from .layers import reverse


def build_coupling(
    dim: int, num_layers: int, hidden_dims: list[int], count_bins: int = 8, bound: float = 4.0
) -> Flow:
    if dim < 2:
        raise ValueError("a coupling flow needs at least 2 coordinates; use 'nsf-ar'")
    split = dim // 2
    layers = []
    for k in range(num_layers):
        if k:
            layers.append(reverse(dim))
        # The network reads the first half and gives, per coordinate of the second half, the
        # spline's bin widths, bin heights and inner-knot derivatives.
        network = DenseNN(split, hidden_dims, param_dims=_param_dims(count_bins, dim - split))
        coupling = SplineCoupling(
            dim, split, network, count_bins, bound, order="quadratic", identity=True
        )
        # With identity=True Pyro still builds (and never uses) a spline for the first half;
        # dropping it keeps every parameter of the flow a trained one.
        del coupling.lower_spline
        layers.append(coupling)
    # Used inverted, so that density evaluation runs the splines forward: Pyro's inverse of a
    # quadratic spline solves a quadratic and asserts on a float32-negative discriminant.
    return Flow(dim, layers, inverted=[True] * len(layers))


def _param_dims(count_bins: int, per: int = 1) -> list[int]:
    """Spline parameters per transformed coordinate: widths, heights, inner derivatives."""
    return [per * count_bins, per * count_bins, per * (count_bins - 1)]


def build_autoregressive(
    dim: int, num_layers: int, hidden_dims: list[int], count_bins: int = 8, bound: float = 4.0
) -> Flow:
    layers = [
        SplineAutoregressive(
            dim,
            AutoRegressiveNN(
                dim,
                hidden_dims,
                param_dims=_param_dims(count_bins),
                permutation=autoregressive_order(dim, k),
            ),
            count_bins=count_bins,
            bound=bound,
            order="quadratic",
        )
        for k in range(num_layers)
    ]
    return Flow(dim, layers, inverted=[True] * num_layers)


FLOWS.register(
    "nsf", build_coupling, description="rational-quadratic spline coupling (Durkan et al. 2019)"
)
FLOWS.register(
    "nsf-ar",
    build_autoregressive,
    description="rational-quadratic spline autoregressive, MAF order",
)
