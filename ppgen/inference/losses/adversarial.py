"""Adversarial objectives: a discriminator against a generated sample (Goodfellow et al. 2014).

A discriminator ``D`` (logits) learns to tell the reference sample (the data, or prior draws) from
the generated one (a Generator's ``"x"``, or a guide's codes); the model learns to fool it. The two
players have separate parameters and optimizers: ``fit`` sees ``adversary_steps`` and, before each
model step, takes that many discriminator steps on fresh batches with the loss's own optimizer.
Three games (``kind``):

- ``"minimax"``: D minimizes the logistic loss ``-log D(x) - log(1 - D(G(z)))``; the model
  minimizes ``log(1 - D(G(z)))``, the original game, whose gradient vanishes when D wins;
- ``"nonsaturating"`` (default, called ``"gan"``): the model minimizes ``-log D(G(z))`` instead,
  same fixed point, strong gradients early on;
- ``"wgan-gp"``: a critic ``f`` maximizes ``E f(x) - E f(G(z))`` with the gradient penalty
  ``lambda E (||grad f(x_hat)|| - 1)^2`` on random interpolates (Gulrajani et al. 2017); the
  model minimizes ``-E f(G(z))``.

With ``site="z", target="prior"`` the same game matches an autoencoder's aggregate posterior q(z)
to its prior p(z): the adversarial autoencoder regularizer (Makhzani et al. 2016), used as
``elbo("trace") + lam * AdversarialLoss(site="z", target="prior")``.
Values are per-point means times the batch size, i.e. summed over the batch as ``fit`` expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import LOSSES
from ...validation import check_name, check_positive_int
from .compose import Loss
from .sites import check_target, two_samples

KINDS = ("minimax", "nonsaturating", "wgan-gp")


class Discriminator(nn.Module):
    """An MLP from points ``(n, input_dim)`` to logits ``(n,)``, with leaky ReLUs."""

    def __init__(self, input_dim: int, hidden_dims: Sequence[int] = (128, 128)):
        super().__init__()
        check_positive_int(input_dim, "input_dim", allow_none=False)
        sizes = [input_dim, *(int(h) for h in hidden_dims), 1]
        layers = []
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(fan_in, fan_out))
            if k < len(sizes) - 2:
                layers.append(nn.LeakyReLU(0.2))
        self.network = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).squeeze(-1)


class AdversarialLoss(Loss):
    """A two-player loss: the model's side as ``__call__``, the discriminator's as
    ``adversary_loss``; ``fit`` alternates them.

    Args:
        kind: ``"nonsaturating"`` (default), ``"minimax"`` or ``"wgan-gp"``.
        site, target: the generated and reference samples, see :mod:`.sites`.
        discriminator: an ``nn.Module`` from points to logits; by default a
            :class:`Discriminator` with ``hidden_dims``, built on first use.
        adversary_steps: discriminator steps per model step (``k``; 5 is usual for WGAN-GP).
        adversary_lr: the discriminator's learning rate (default: the model's).
        gradient_penalty: the WGAN-GP weight ``lambda``.
        betas: Adam's betas for both players (``fit`` applies them to the model's Adam too). By
            default (0.5, 0.9) for the logistic games (DCGAN's short momentum memory suits a
            moving target) and (0, 0.9) for WGAN-GP, as in Gulrajani et al.'s Algorithm 1.
    """

    def __init__(
        self,
        kind: str = "nonsaturating",
        site: str = "x",
        target: str = "data",
        discriminator: nn.Module | None = None,
        hidden_dims: Sequence[int] = (256, 256, 256),
        adversary_steps: int = 1,
        adversary_lr: float | None = None,
        gradient_penalty: float = 10.0,
        betas: tuple[float, float] | None = None,
    ):
        check_name(kind, KINDS, "adversarial loss kind")
        self.kind, self.site, self.target = kind, site, check_target(target)
        if discriminator is not None and not isinstance(discriminator, nn.Module):
            raise TypeError(f"discriminator must be a torch.nn.Module, got {discriminator!r}")
        check_positive_int(adversary_steps, "adversary_steps", allow_none=False)
        if adversary_lr is not None and not adversary_lr > 0:
            raise ValueError(f"adversary_lr must be positive, got {adversary_lr!r}")
        if not gradient_penalty >= 0:
            raise ValueError(f"gradient_penalty must be >= 0, got {gradient_penalty!r}")
        self.discriminator = discriminator
        self.hidden_dims = tuple(hidden_dims)
        self.adversary_steps = adversary_steps
        self.adversary_lr = adversary_lr
        self.gradient_penalty = gradient_penalty
        self.betas = betas if betas is not None else (0.0, 0.9) if kind == "wgan-gp" else (0.5, 0.9)
        self.optimizer_options = {"betas": self.betas}
        self.name = {"nonsaturating": "gan", "minimax": "minimax-gan", "wgan-gp": "wgan-gp"}[kind]
        if target == "prior":
            self.name = f"{self.name}_prior"

    # ----- the discriminator -----------------------------------------------------------------
    def critic(self, points: torch.Tensor) -> torch.Tensor:
        """Discriminator logits (or critic values) per point, ``(n,)``."""
        if self.discriminator is None:  # built on first use, when the input size is known
            self.discriminator = Discriminator(points.shape[-1], self.hidden_dims).to(points)
        return self.discriminator(points)

    def adversary_parameters(self):
        return iter(()) if self.discriminator is None else self.discriminator.parameters()

    def adversary_optimizer(self, lr: float) -> torch.optim.Optimizer:
        """The discriminator's optimizer; ``lr`` is the model's, used unless ``adversary_lr``."""
        return torch.optim.Adam(
            list(self.adversary_parameters()), lr=self.adversary_lr or lr, betas=self.betas
        )

    def state_dict(self) -> dict:
        network = self.discriminator
        return {"discriminator": None if network is None else network.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if state["discriminator"] is not None:
            self.discriminator.load_state_dict(state["discriminator"])

    def to(self, device) -> AdversarialLoss:
        if self.discriminator is not None:
            self.discriminator.to(device)
        return self

    # ----- the two players' losses ------------------------------------------------------------
    def __call__(self, model, guide, x, **kwargs) -> torch.Tensor:
        generated, _ = two_samples(model, guide, x, self.site, self.target, **kwargs)
        fake = self.critic(generated)
        if self.kind == "minimax":
            per_point = -F.softplus(fake)  # log(1 - D) = -softplus(logit)
        elif self.kind == "nonsaturating":
            per_point = F.softplus(-fake)  # -log D = softplus(-logit)
        else:
            per_point = -fake
        return len(x) * per_point.mean()

    def adversary_loss(self, model, guide, x, **kwargs) -> torch.Tensor:
        with torch.no_grad():  # the model is held fixed during the discriminator's steps
            generated, reference = two_samples(model, guide, x, self.site, self.target, **kwargs)
        real, fake = self.critic(reference), self.critic(generated)
        if self.kind != "wgan-gp":
            value = F.softplus(-real).mean() + F.softplus(fake).mean()  # logistic loss
        else:
            value = fake.mean() - real.mean()
            if self.gradient_penalty:
                value = value + self.gradient_penalty * self._penalty(reference, generated)
        return len(x) * value

    def _penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if real.shape != fake.shape:
            raise ValueError(
                f"the gradient penalty pairs real and generated points: got {tuple(real.shape)} "
                f"and {tuple(fake.shape)}"
            )
        mix = torch.rand(len(real), 1, dtype=real.dtype, device=real.device)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(between).sum(), between, create_graph=True)
        return (grad.norm(dim=-1) - 1).pow(2).mean()


LOSSES.register(
    "gan",
    partial(AdversarialLoss, "nonsaturating"),
    description="GAN, non-saturating generator loss, logistic discriminator",
)
LOSSES.register(
    "minimax-gan",
    partial(AdversarialLoss, "minimax"),
    description="GAN, the original minimax game",
)
LOSSES.register(
    "wgan-gp",
    partial(AdversarialLoss, "wgan-gp", adversary_steps=5),
    description="Wasserstein GAN with gradient penalty, 5 critic steps per generator step",
)
