"""Per-datapoint importance weights ``log w = log p(x, z) - log q(z | x)``, ``z ~ q(z | x)``.

The building block of every bound and estimate in :mod:`ppgen.evaluation` and of the multi-sample
estimators (``iwae``, ``vimco``): the ELBO is the weights' mean, the importance-weighted bound and
the log-likelihood estimate their log-mean-exp. Samples are drawn in one vectorized pass (a plate
over samples to the left of the model's plates); callers chunk over samples to bound memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyro
import pyro.poutine as poutine
import torch
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import prune_subsample_sites

from ..models.base import GenerativeModel, split_pair
from ..validation import check_data

SAMPLE_PLATE = "_ppgen_samples"


@dataclass
class WeightParts:
    """The two halves of the log importance weights, each ``(num_samples, num_points)``.

    ``log_q_score`` is the part of ``log q`` from guide sites that are not reparameterized (the
    ones a score-function estimator needs); ``reparameterized`` says whether there are none.
    """

    log_p: torch.Tensor
    log_q: torch.Tensor
    log_q_score: torch.Tensor
    reparameterized: bool

    @property
    def log_w(self) -> torch.Tensor:
        return self.log_p - self.log_q


def plate_nesting(model_fn, guide_fn, *args, **kwargs) -> int:
    """The number of nested plates in a model/guide pair, found by tracing both once."""
    guide_trace = poutine.trace(guide_fn).get_trace(*args, **kwargs)
    model_trace = poutine.trace(poutine.replay(model_fn, trace=guide_trace)).get_trace(
        *args, **kwargs
    )
    dims = [
        -frame.dim
        for trace in (guide_trace, model_trace)
        for site in trace.nodes.values()
        for frame in site.get("cond_indep_stack", ())
    ]
    return max(dims, default=0)


def per_datapoint(trace, data_plate: str, sample_dim: int, num_points: int, sites=None):
    """Sum each sample site's log-density over every dimension but samples and data points."""
    total = torch.zeros(())
    for name, site in trace.nodes.items():
        if site["type"] != "sample" or (sites is not None and name not in sites):
            continue
        frames = {f.name: f.dim for f in site["cond_indep_stack"]}
        if data_plate not in frames:
            raise NotImplementedError(
                f"sample site {name!r} is outside the plate {data_plate!r}: per-datapoint weights "
                "need every latent to be local to a data point (global latents are not supported)"
            )
        log_prob = site["log_prob"]  # scaled and masked, batch dims aligned to the right
        log_prob = log_prob.reshape((1,) * (-sample_dim - log_prob.dim()) + log_prob.shape)
        log_prob = log_prob.movedim(frames[data_plate], -1)  # (samples, ..., num_points)
        total = total + log_prob.reshape(log_prob.shape[0], -1, num_points).sum(1)
    return total


class _DetachSamples(Messenger):
    """Makes every sampled value a constant (no gradient path back to the guide)."""

    def _pyro_post_sample(self, msg):
        if not msg["is_observed"]:
            msg["value"] = msg["value"].detach()


def vectorize(fn, num_samples: int, sample_dim: int):
    """``fn`` inside a plate of ``num_samples`` at ``sample_dim``, left of the model's plates."""

    def wrapped(*args, **kwargs):
        with pyro.plate(SAMPLE_PLATE, num_samples, dim=sample_dim):
            return fn(*args, **kwargs)

    return wrapped


def scored_trace(fn, x: torch.Tensor, replay_from=None, **kwargs):
    """Trace ``fn(x, **kwargs)`` (replaying latent values from ``replay_from``), without plate
    sites, with every site's ``log_prob`` computed."""
    if replay_from is not None:
        fn = poutine.replay(fn, trace=replay_from)
    trace = prune_subsample_sites(poutine.trace(fn).get_trace(x, **kwargs))  # plate index sites go
    trace.compute_log_prob()
    return trace


def weight_parts(
    model_fn,
    guide_fn,
    x: torch.Tensor,
    num_samples: int,
    data_plate: str,
    nesting: int,
    detach_samples: bool = False,
    **kwargs,
) -> WeightParts:
    """Draw ``num_samples`` guide samples per data point in one pass and score them.

    No input checks (estimators call this every step); differentiable: reparameterized samples
    carry gradients to the guide's parameters unless ``detach_samples``. ``kwargs`` go to model and
    guide (e.g. the labels ``y`` of a class-conditional model).
    """
    sample_dim = -nesting - 1
    if detach_samples:
        guide_fn = _DetachSamples()(guide_fn)

    guide_trace = scored_trace(vectorize(guide_fn, num_samples, sample_dim), x, **kwargs)
    model_trace = scored_trace(
        vectorize(model_fn, num_samples, sample_dim), x, guide_trace, **kwargs
    )
    num_points = x.shape[0]
    score_sites = {
        name
        for name, site in guide_trace.nodes.items()
        if site["type"] == "sample" and not site["fn"].has_rsample
    }
    log_q = per_datapoint(guide_trace, data_plate, sample_dim, num_points)
    return WeightParts(
        log_p=per_datapoint(model_trace, data_plate, sample_dim, num_points),
        log_q=log_q,
        log_q_score=per_datapoint(guide_trace, data_plate, sample_dim, num_points, score_sites),
        reparameterized=not score_sites,
    )


def log_importance_weights(model, x: torch.Tensor, num_samples: int, **kwargs) -> torch.Tensor:
    """``log p(x, z_s) - log q(z_s | x)`` for ``num_samples`` draws ``z_s ~ q``, shape
    ``(num_samples, num_points)``.

    ``model`` is a :class:`~ppgen.models.GenerativeModel` or a ``(model, guide)`` pair whose
    observations sit in a plate named ``"data"``; ``kwargs`` go to both programs (e.g. ``y=``
    labels of a class-conditional VAE).
    """
    model_fn, guide_fn, data_plate, nesting = split_pair(model)
    if isinstance(model, GenerativeModel):
        model.check_data(x, "x")
    else:
        check_data(x, name="x")
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
    if nesting is None:
        nesting = plate_nesting(model_fn, guide_fn, x, **kwargs)
    return weight_parts(model_fn, guide_fn, x, num_samples, data_plate, nesting, **kwargs).log_w
