"""Custom objectives ``loss(model, guide, *args) -> tensor`` for ``fit``: MMD and adversarial
two-sample losses, their building blocks (kernels, MMD^2 estimators, a discriminator), and the
arithmetic that composes them with ELBOs (``elbo("trace") + 10 * MMDLoss(site="z",
target="prior")``). Registered names (``available_losses()``) work as ``fit(..., loss="mmd")``."""

from functools import partial

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
from .mmd import MMDLoss, mmd2
from .registry import available_losses, get_loss, register_loss

register_loss("mmd", MMDLoss, "MMD^2 between a Generator's samples and the data (GMMN)")
register_loss(
    "gan",
    partial(AdversarialLoss, "nonsaturating"),
    "GAN, non-saturating generator loss, logistic discriminator",
)
register_loss("minimax-gan", partial(AdversarialLoss, "minimax"), "GAN, the original minimax game")
register_loss(
    "wgan-gp",
    partial(AdversarialLoss, "wgan-gp", adversary_steps=5),
    "Wasserstein GAN with gradient penalty, 5 critic steps per generator step",
)

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
