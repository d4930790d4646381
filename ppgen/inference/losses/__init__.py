"""Custom objectives ``loss(model, guide, *args) -> tensor`` for ``fit``: MMD and adversarial
two-sample losses, their building blocks (kernels, MMD^2 estimators, a discriminator), and the
arithmetic that composes them with ELBOs (``elbo("trace") + 10 * MMDLoss(site="z",
target="prior")``). Registered names (``available_losses()``) work as ``fit(..., loss="mmd")``;
each loss registers itself in its own file."""

from ...registry import import_submodules
from .adversarial import KINDS, AdversarialLoss, Discriminator
from .compose import ELBOLoss, FunctionLoss, Loss, ScaledLoss, SumLoss, as_loss, elbo
from .kernels import (
    InverseMultiquadric,
    Kernel,
    RationalQuadratic,
    RBFMixture,
    get_kernel,
    median_heuristic,
)
from .lookup import available_losses, get_loss, register_loss
from .mmd import MMDLoss, mmd2

import_submodules(__name__, __path__)

__all__ = [
    "KINDS",
    "AdversarialLoss",
    "Discriminator",
    "ELBOLoss",
    "FunctionLoss",
    "InverseMultiquadric",
    "Kernel",
    "Loss",
    "MMDLoss",
    "RBFMixture",
    "RationalQuadratic",
    "ScaledLoss",
    "SumLoss",
    "as_loss",
    "available_losses",
    "elbo",
    "get_kernel",
    "get_loss",
    "median_heuristic",
    "mmd2",
    "register_loss",
]
