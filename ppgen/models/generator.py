"""``Generator``: an implicit model ``x = g(z)``, ``z ~ N(0, I)``, with no likelihood.

As a Pyro program the model draws ``z`` in the data plate and records the generated points with
``pyro.deterministic("x", g(z))``; the data batch only sets how many points to generate. There is
no density p(x) (it is singular whenever ``latent_dim < data_dim``) and no inference, so the guide
is empty and no ELBO applies: a generator is trained by a two-sample loss between its ``"x"`` site
and the data, ``fit(generator, data, loss="mmd")`` (GMMN, Li et al. 2015) or ``loss="gan"``
(Goodfellow et al. 2014), see :mod:`ppgen.inference.losses`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
import torch

from ..registry import MODELS, PRESETS, Preset
from ..validation import check_positive_int
from .base import GenerativeModel
from .networks import mlp


@MODELS.register("generator")
class Generator(GenerativeModel):
    """Implicit generator x = g(z), z ~ N(0, I); trained by MMD (GMMN) or a GAN loss."""

    reference_setup = {"data": ("ring8", {}), "model": {}, "fit": {"loss": "mmd"}}
    example_options = {}

    likelihood = "implicit"
    # Trained by MMD on ring8 these converge (benchmarks/results/fit_defaults.md).
    default_steps = 3000

    def __init__(
        self,
        data_dim: int,
        latent_dim: int = 8,
        hidden_dims: Sequence[int] = (256, 256, 256),
        *,
        name: str | None = None,
    ):
        super().__init__(data_dim, name=name)
        check_positive_int(latent_dim, "latent_dim", allow_none=False)
        self.latent_dim = latent_dim
        self.hidden_dims = tuple(int(h) for h in hidden_dims)
        self.network = mlp([latent_dim, *self.hidden_dims, data_dim])

    def model(self, x: torch.Tensor) -> None:
        # Only the batch size, dtype and device of x are used: nothing is observed.
        zeros = x.new_zeros(len(x), self.latent_dim)
        with pyro.plate(self.data_plate, len(x), dim=-1):
            z = pyro.sample("z", dist.Normal(zeros, 1.0).to_event(1))
            pyro.deterministic(self.observed_site, self.network(z), event_dim=1)

    def guide(self, x: torch.Tensor) -> None:
        """Empty: the latent noise is never inferred."""

    @property
    def has_exact_log_prob(self) -> bool:
        return False

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "Generator is an implicit model: it has no likelihood, so no log_likelihood or ELBO "
            "either; score its samples with ppgen.evaluation.kde_log_likelihood, mmd_test or "
            "mode_coverage"
        )

    @torch.no_grad()
    def sample(self, num_samples: int, **kwargs) -> torch.Tensor:
        """``num_samples`` generated points, ``(num_samples, data_dim)``."""
        check_positive_int(num_samples, "num_samples", allow_none=False)
        z = torch.randn(num_samples, self.latent_dim, device=self.device, dtype=self.dtype)
        return self.network(z)

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}, latent_dim={self.latent_dim}"


PRESETS.register(
    "gmmn",
    Preset("generator", "mmd"),
    description="a Generator trained by MMD to the data (Li et al. 2015)",
)
PRESETS.register(
    "gan",
    Preset("generator", "gan"),
    description="a Generator trained against a discriminator (non-saturating)",
)
