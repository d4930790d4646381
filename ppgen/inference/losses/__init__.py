"""Custom objectives ``loss(model, guide, *args) -> tensor`` (MMD, adversarial) for ``fit``, and
their building blocks: kernels and the MMD^2 estimators."""

from .kernels import (
    InverseMultiquadric,
    Kernel,
    RationalQuadratic,
    RBFMixture,
    get_kernel,
    median_heuristic,
)
from .mmd import mmd2

__all__ = [
    "InverseMultiquadric",
    "Kernel",
    "RBFMixture",
    "RationalQuadratic",
    "get_kernel",
    "median_heuristic",
    "mmd2",
]
