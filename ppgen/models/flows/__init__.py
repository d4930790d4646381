"""Normalizing flows assembled from Pyro's transforms; importing this package registers them all."""

from . import autoregressive, coupling, spline  # noqa: F401  (registration)
from .autoregressive import ConditionalFlow, conditional_iaf
from .layers import ActNorm, Permutation, reverse
from .registry import Flow, available_flows, build_flow, register_flow

__all__ = [
    "ActNorm",
    "ConditionalFlow",
    "Flow",
    "Permutation",
    "available_flows",
    "build_flow",
    "conditional_iaf",
    "register_flow",
    "reverse",
]
