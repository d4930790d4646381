"""The gradient an estimator's estimates are compared with in ``gradient_stats(reference=...)``:
the ELBO's gradient, exact where Pyro can enumerate the guide's discrete sites, or a high-sample
estimate with its own standard error, said as such.

- ``reference="enumerate"``: Pyro's ``TraceEnum_ELBO`` with every guide site enumerated in
  parallel (``config_enumerate``) sums the latents out exactly (standard error 0). A guide with a
  site Pyro cannot enumerate (a continuous latent, a Bernoulli with ``to_event``) is refused,
  naming it: the sum would silently be a Monte Carlo draw there.
- ``reference=M`` (an int): the mean of ``M`` leave-one-out REINFORCE estimates with 16 samples
  each (``rloo``, unbiased for the ELBO's gradient for any guide), and their standard error.

Bias is measured against the ELBO's gradient; for an estimator of another objective (a K-sample
bound, a relaxation) it is how far that objective's gradient departs from the ELBO's.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyro.poutine as poutine
import torch
from pyro.infer import TraceEnum_ELBO, config_enumerate

from ..inference.lookup import get_estimator
from ..program.sites import latent_sites
from ..validation import check_int_at_least

REFERENCE_PARTICLES = 16


@dataclass
class ReferenceGradient:
    """The reference gradient ``mean`` ``(P,)``, its standard error ``se`` ``(P,)`` and how it
    was had (``kind``)."""

    mean: torch.Tensor
    se: torch.Tensor
    kind: str


def reference_gradient(reference, model_fn, guide_fn, params, args, kwargs, rows, nesting, plate):
    """The :class:`ReferenceGradient` of the per-row negative ELBO, for ``params``."""

    def flat(loss):
        grads = torch.autograd.grad(loss / rows, params, allow_unused=True)
        return torch.cat([(torch.zeros_like(p) if g is None else g).flatten()
                          for p, g in zip(params, grads)])  # fmt: skip

    if reference == "enumerate":
        _check_enumerable(guide_fn, args, kwargs)
        elbo = TraceEnum_ELBO(max_plate_nesting=nesting)
        try:
            loss = elbo.differentiable_loss(model_fn, config_enumerate(guide_fn, "parallel"),
                                            *args, **kwargs)  # fmt: skip
        except (ValueError, NotImplementedError, RuntimeError) as error:
            raise ValueError(
                f"reference='enumerate': Pyro cannot enumerate this guide's sites ({error}); "
                "pass reference=<number of estimates> for a sampled reference"
            ) from error
        mean = flat(loss)
        return ReferenceGradient(mean, torch.zeros_like(mean), "exact (enumerated)")
    check_int_at_least(reference, "reference", 2)
    rloo = get_estimator("rloo", num_particles=REFERENCE_PARTICLES, max_plate_nesting=nesting)
    rloo.data_plate = plate
    draws = torch.stack([flat(rloo(model_fn, guide_fn, *args, **kwargs)) for _ in range(reference)])
    return ReferenceGradient(
        draws.mean(0), draws.std(0) / reference**0.5,
        f"sampled: mean of {reference} rloo estimates, K={REFERENCE_PARTICLES}",
    )  # fmt: skip


def _check_enumerable(guide_fn, args, kwargs) -> None:
    trace = poutine.trace(guide_fn).get_trace(*args, **kwargs)
    others = [
        name
        for name, site in latent_sites(trace)
        if not site["is_observed"] and not site["fn"].has_enumerate_support
    ]
    if others:
        raise ValueError(
            f"reference='enumerate': Pyro cannot enumerate guide site(s) {others} (continuous, "
            "or discrete with to_event); pass reference=<number of estimates> for a sampled "
            "reference"
        )
