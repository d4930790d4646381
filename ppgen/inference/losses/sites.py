"""The two samples a two-sample loss compares, read off a model's and a guide's sample sites.

A two-sample objective (MMD, a discriminator) needs a *generated* sample that carries gradients to
the parameters being trained, and a *reference* sample from the distribution it should match:

- ``target="data"``: the model's value at ``site`` (a :class:`~ppgen.models.Generator` records
  ``x = g(z)`` there with ``pyro.deterministic``) against the data batch. Trains a generator
  (GMMN, GAN).
- ``target="prior"``: the guide's draws at latent ``site``, i.e. samples of the aggregate posterior
  ``q(z) = E_x q(z | x)`` over the batch, against draws from the model's prior at the same site.
  Regularizes an autoencoder's code space (MMD-VAE / InfoVAE, adversarial autoencoders).
"""

from __future__ import annotations

import pyro.poutine as poutine
import torch

from ...validation import check_name

TARGETS = ("data", "prior")


def check_target(target: str) -> str:
    check_name(target, TARGETS, "two-sample target")
    return target


def two_samples(
    model, guide, x: torch.Tensor, site: str, target: str, **kwargs
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(generated, reference)``, each ``(num_points, features)``; ``generated`` is differentiable.

    Raises:
        ValueError: ``site`` is missing, or it is an observed site of the model (whose value would
            be the data itself).
    """
    model_trace = poutine.trace(model).get_trace(x, **kwargs)
    if target == "data":
        node = _site(model_trace, site, "model")
        if node["is_observed"] and not node["infer"].get("_deterministic", False):
            raise ValueError(
                f"site {site!r} is observed in the model, so its value is the data itself; a "
                "two-sample loss against the data needs a generated site (a Generator's 'x', "
                "recorded with pyro.deterministic)"
            )
        return _flat(node["value"]), x
    guide_trace = poutine.trace(guide).get_trace(x, **kwargs)
    generated = _site(guide_trace, site, "guide")["value"]
    prior = _site(model_trace, site, "model")
    if prior["is_observed"]:
        raise ValueError(f"site {site!r} is observed in the model; the prior target needs a latent")
    return _flat(generated), _flat(prior["value"])


def _site(trace, site: str, program: str) -> dict:
    node = trace.nodes.get(site)
    if node is None or node["type"] != "sample":
        sites = [n for n, s in trace.nodes.items() if s["type"] == "sample"]
        raise ValueError(f"the {program} has no sample site {site!r}; its sites are {sites}")
    return node


def _flat(value: torch.Tensor) -> torch.Tensor:
    """Points as rows: ``(n, features)`` (a scalar site becomes one feature)."""
    if value.dim() == 1:
        return value[:, None]
    return value.reshape(-1, value.shape[-1])
