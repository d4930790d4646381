"""``FlowDensity``: a normalizing flow as a density model ``x = f(u)``, ``u ~ N(0, I)``.

The density is exact by the change of variables, ``log p(x) = log N(f^{-1}(x)) +
log |det d f^{-1} / d x|``, which Pyro's ``TransformedDistribution`` computes. As a Pyro program the
flow is a model with no latent sites: ``model(x)`` observes ``x`` under the flow's distribution and
``guide(x)`` is empty. Every ELBO then equals ``log p(x)``, so ``ppgen.fit`` (``estimator="trace"``)
trains the flow by maximum likelihood with no special case.

Layers in sampling order: the chosen flow (:func:`ppgen.models.flows.build_flow`), then an
:class:`~ppgen.models.flows.ActNorm` that :meth:`FlowDensity.init_from_data` sets to the data's
mean and scale, then, with ``preprocess="logit"``, the fixed map from R^D onto (0, 1)^D of RealNVP
(``x = (sigmoid(y) - alpha) / (1 - 2 alpha)``) so that dequantized pixels in [0, 1] get a density
on their own scale: bits per dimension are then directly comparable with the literature.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch.distributions.transforms import AffineTransform, SigmoidTransform

from ..registry import MODELS
from ..validation import check_name
from .base import GenerativeModel
from .flows import ActNorm, build_flow

PREPROCESSING = (None, "logit")
#: RealNVP's logit pre-transform squeezes [0, 1] into [alpha, 1 - alpha] so the logit stays finite.
LOGIT_ALPHA = 0.05


@MODELS.register("flow")
class FlowDensity(GenerativeModel):
    """Normalizing-flow density model (exact log p(x)), trained by maximum likelihood."""

    reference_setup = {"data": ("moons", {}), "model": {}, "fit": {}}
    example_options = {"flow": "realnvp", "num_layers": 2, "hidden_dims": (16,)}

    traceable = True  # no data-dependent control flow in model/guide

    likelihood = "density"
    # On two moons this is within 0.2 nats of the true density; the fit keeps improving slowly
    # (not converged by ppgen's test at 3000 or 6000 steps: benchmarks/results/fit_defaults.md).
    default_lr = 3e-3
    default_steps = 3000
    # A flow can squeeze a constant coordinate onto a point: its density grows without bound.
    constant_columns_unbounded = True

    def __init__(
        self,
        data_dim: int,
        flow: str = "realnvp",
        num_layers: int = 4,
        hidden_dims: list[int] | None = None,
        preprocess: str | None = None,
        *,
        name: str | None = None,
        **flow_options,
    ):
        super().__init__(data_dim, name=name)
        if preprocess is not None:
            check_name(preprocess, PREPROCESSING[1:], "preprocessing")
        self.flow_name = flow
        self.preprocess = preprocess
        self.needs_unit_interval = preprocess == "logit"
        self.flow = build_flow(flow, data_dim, num_layers, hidden_dims, **flow_options)
        self.actnorm = ActNorm(data_dim)
        self.register_buffer("base_loc", torch.zeros(data_dim))
        self.register_buffer("base_scale", torch.ones(data_dim))

    def _to_unit_interval(self) -> list:
        """The fixed maps from the flow's space onto (0, 1)^D (empty without preprocessing)."""
        if self.preprocess != "logit":
            return []
        shrink = 1 - 2 * LOGIT_ALPHA
        return [SigmoidTransform(), AffineTransform(-LOGIT_ALPHA / shrink, 1 / shrink)]

    def distribution(self) -> dist.TransformedDistribution:
        """The flow's distribution over one data point (event shape ``(data_dim,)``)."""
        # No support check on the base: a point far from the data can overflow to inf on its way
        # back through the flow, and its log-density is then -inf, not an error.
        base = dist.Normal(self.base_loc, self.base_scale, validate_args=False).to_event(1)
        transforms = self.flow.transforms() + [self.actnorm] + self._to_unit_interval()
        return dist.TransformedDistribution(base, transforms)

    def model(self, x: torch.Tensor) -> None:
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            pyro.sample(self.observed_site, self.distribution(), obs=x)

    def guide(self, x: torch.Tensor) -> None:
        """No latent sites: the flow's likelihood is exact, so there is nothing to infer."""

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        self.check_data(x, "x")
        return self.distribution().log_prob(x)

    def init_from_data(self, x: torch.Tensor) -> FlowDensity:
        """Set the ActNorm layer so that the data enter the flow standardized."""
        self.check_data(x, "x")
        with torch.no_grad():
            y = x
            for transform in reversed(self._to_unit_interval()):
                y = transform.inv(y)
            self.actnorm.init_from_data(y)
        return self

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}, flow={self.flow_name!r}, preprocess={self.preprocess!r}"
