"""NVIL: REINFORCE with an input-dependent neural baseline, centering and variance normalization
(Mnih & Gregor 2014). Reached as ``get_estimator("tracegraph", baseline="nvil")``.

For each data point and sample ``z ~ q(z | x)`` the learning signal
``l = log p(x, z) - log q(z | x)`` is centered by a baseline network ``b(x)`` (an MLP, trained to
minimize ``(l - b(x) - c)^2``) and a running mean ``c``, then divided by ``max(1, sqrt(v))``
with ``v`` a running variance:

    grad = E[ (l - b(x) - c) / max(1, sqrt(v)) * grad log q(z | x) ]  + reparameterized terms.

Subtracting a baseline that does not depend on ``z`` keeps the gradient direction unbiased;
normalizing rescales the guide's step size only. The learning signal is the whole per-datapoint
log weight (no layer-wise Rao-Blackwellization). The baseline network and the running statistics
belong to this object; ``fit`` trains the network and checkpoints both.
"""

from __future__ import annotations

import torch

from ..program.importance import WeightParts
from .multi_sample import MultiSampleEstimator


class NVIL(MultiSampleEstimator):
    """Score-function ELBO gradients with NVIL's neural baseline and variance normalization."""

    name = "tracegraph+nvil"
    # The centering and variance statistics are updated in Python each step; a trace would
    # freeze them, and the baseline network's parameters are the estimator's, not the model's.
    traceable = False

    def __init__(self, num_particles=1, max_plate_nesting=None, beta=0.9, hidden=100):
        super().__init__(num_particles, max_plate_nesting)
        self.beta = beta
        self.hidden = hidden
        self.network = None  # built on the first batch, when the input size is known
        self.center = None  # running mean c of l - b(x)
        self.variance = None  # running variance v of l - b(x)

    def baseline(self, x: torch.Tensor) -> torch.Tensor:
        """``b(x)`` per data point, ``(batch,)``."""
        if self.network is None:
            self.network = torch.nn.Sequential(
                torch.nn.Linear(x.shape[-1], self.hidden),
                torch.nn.Tanh(),
                torch.nn.Linear(self.hidden, 1),
            ).to(x)
        return self.network(x).squeeze(-1)

    # The estimator owns state that fit() must train and checkpoint: the baseline network and
    # the running statistics. It is kept here, not in Pyro's global parameter store, so that two
    # NVIL estimators in one process never share a network.
    def parameters(self):
        """The baseline network's parameters (none before the first call)."""
        return iter(()) if self.network is None else self.network.parameters()

    def state_dict(self) -> dict:
        return {
            "network": None if self.network is None else self.network.state_dict(),
            "center": self.center,
            "variance": self.variance,
        }

    def load_state_dict(self, state: dict) -> None:
        if state["network"] is not None:
            self.network.load_state_dict(state["network"])
        device = next(self.network.parameters()).device if self.network is not None else None
        self.center, self.variance = (
            None if v is None else v.to(device) for v in (state["center"], state["variance"])
        )

    def __call__(self, model, guide, *args, **kwargs) -> torch.Tensor:
        parts = self.parts(model, guide, *args, **kwargs)
        return -self.surrogate(parts, self.features(args)).sum()

    @staticmethod
    def features(args: tuple) -> torch.Tensor | None:
        """The baseline network's input: the first positional argument, one row per data point
        (flattened), where it has one row per point; else ``None`` (centering only)."""
        x = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if x is None or x.dim() == 0:
            return None
        x = x.reshape(x.shape[0], -1)
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        return x

    def surrogate(self, parts: WeightParts, x: torch.Tensor | None) -> torch.Tensor:
        signal = parts.log_w.detach()  # (K, batch), or (K, 1) for joint weights
        if x is None:
            b = signal.new_zeros(signal.shape[1:])
        elif x.shape[0] == signal.shape[1]:
            b = self.baseline(x)  # (batch,)
        else:  # joint weights of a model with global latents: b = sum_n b(x_n)
            b = self.baseline(x).sum(0, keepdim=True)  # (1,)
        residual = signal - b.detach()
        if torch.is_grad_enabled():  # update the running statistics on training steps only
            mean, var = residual.mean(), residual.var() if residual.numel() > 1 else 0.0
            if self.center is None:
                self.center, self.variance = mean, torch.as_tensor(var)
            else:
                self.center = self.beta * self.center + (1 - self.beta) * mean
                self.variance = self.beta * self.variance + (1 - self.beta) * var
        center = self.center if self.center is not None else residual.mean()
        scale = self.variance.sqrt().clamp(min=1.0) if self.variance is not None else 1.0
        learning_signal = (residual - center) / scale  # (K, batch)
        score = parts.log_q_score
        # log p - log q with the score-function sites' log q held constant: their direct
        # gradient has zero mean and only adds variance (as in Pyro's Trace_ELBO).
        elbo = parts.log_p - (parts.log_q - score) - score.detach()
        reinforce = learning_signal * (score - score.detach())
        fit_baseline = (signal - center - b).pow(2)
        # Values: the ELBO; gradients: ELBO + REINFORCE for the model/guide, MSE for b(x).
        per_sample = elbo + reinforce - 0.5 * (fit_baseline - fit_baseline.detach())
        return per_sample.mean(0)
