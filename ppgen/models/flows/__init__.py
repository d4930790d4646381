"""Normalizing flows assembled from Pyro's transforms, one family per file; importing this
package imports every file in it, which registers them all (:data:`ppgen.registry.FLOWS`)."""

from ...registry import import_submodules
from .autoregressive import ConditionalFlow, conditional_iaf
from .flow import Flow, available_flows, build_flow, register_flow
from .layers import ActNorm, Permutation, reverse

import_submodules(__name__, __path__)

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
