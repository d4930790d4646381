"""Reconstruction error of an autoencoding model/guide pair: encode ``x`` with the guide, decode.

Two per-datapoint measures, both for any model/guide pair with an observed site in a data plate:

- ``"nll"``: ``E_q[-log p(x | z)]``, the ELBO's reconstruction term (nats per data point);
- ``"squared"``: ``E_q ||x - E[x | z]||^2``, the squared distance to the decoder's mean.
"""

from __future__ import annotations

import pyro.poutine as poutine
import torch

from ..models.base import GenerativeModel
from ..program.data_spec import check_tensor
from ..program.importance import scored_trace, split_log_prob
from ..program.particles import vectorize
from ..program.program import Program
from ..validation import check_name, check_positive_int

METRICS = ("nll", "squared")


@torch.no_grad()
def reconstruction_error(
    model, x: torch.Tensor, metric: str = "nll", num_samples: int = 1, **kwargs
) -> torch.Tensor:
    """Reconstruction error per data point, shape ``(num_points,)``, averaged over
    ``num_samples`` draws ``z ~ q(z | x)``; ``kwargs`` go to model and guide."""
    check_name(metric, METRICS, "reconstruction metric")
    check_positive_int(num_samples, "num_samples", allow_none=False)
    if isinstance(model, GenerativeModel):
        model.check_data(x, "x")
        observed = model.observed_site
    else:
        check_tensor(x, "x")
        observed = "x"
    pair = Program.of(model).resolved((x,), kwargs)
    data_plate, sample_dim = pair.data_plate, -pair.nesting - 1
    guide_trace = poutine.trace(vectorize(pair.guide_fn, num_samples, sample_dim)).get_trace(
        x, **kwargs
    )
    model_trace = scored_trace(
        vectorize(pair.model_fn, num_samples, sample_dim), (x,), kwargs, guide_trace
    )
    if observed not in model_trace.nodes:
        raise ValueError(f"the model has no observed site {observed!r}")
    if metric == "nll":
        log_lik, _ = split_log_prob(model_trace, data_plate, sample_dim, sites={observed})
        return -log_lik.mean(0)
    mean = model_trace.nodes[observed]["fn"].mean  # (num_samples, num_points, data_dim)
    return (x - mean).pow(2).sum(-1).mean(0)
