"""``dreg``: doubly-reparameterized gradients of the importance-weighted bound (Tucker et al. 2018).

IWAE's reparameterized gradient for the guide contains a score-like term whose signal-to-noise
ratio falls as K grows (Rainforth et al. 2018). DReG rewrites it, for reparameterizable guides, as

    guide:  sum_k w~_k^2  d log w_k / d z_k  d z_k / d phi     (path derivative only)
    model:  sum_k w~_k    grad_theta log p(x, z_k)             (IWAE's, unchanged)

with ``w~_k = w_k / sum_j w_j``. Both are unbiased for the gradient of the same bound as ``iwae``.
The path-only term needs ``log p`` and ``log q`` evaluated with *parameters* held constant while
the samples keep their reparameterized path: parameters of ``nn.Module`` owners (ppgen models)
are swapped for detached copies and ``pyro.param`` values detached
(:mod:`ppgen.program.constant_parameters`).
"""

from __future__ import annotations

import math

import torch

from ..program.constant_parameters import frozen_samples, with_constant_parameters
from ..program.importance import assemble, compute_log_prob
from ..program.sites import is_reparameterized
from ..registry import ESTIMATORS
from .multi_sample import MultiSampleEstimator


@ESTIMATORS.register(
    "dreg", description="doubly-reparameterized IWAE gradients (Tucker et al. 2018)"
)
class DReG(MultiSampleEstimator):
    """Doubly-reparameterized IWAE gradients with K particles; the value is ``-L_K``."""

    name = "dreg"
    needs_reparameterized = True
    # torch.func.functional_call (the detached-parameter pass) refuses to run under a trace.
    traceable = False

    def __call__(self, model, guide, *args, **kwargs) -> torch.Tensor:

        pair = self.resolve(model, guide, args, kwargs)
        sample_dim, K = -pair.nesting - 1, self.num_particles

        particles = self.particles

        def scored(fn, replay_from=None):
            return particles.trace(fn, args, kwargs, K, sample_dim, replay_from, compute_log_prob)

        def weights(model_trace, guide_trace):
            # Per data point, or joint for a model with global latents (see multi_sample.py).
            parts = assemble(model_trace, guide_trace, pair.data_plate, sample_dim)
            return parts.per_point_or_joint()

        def traces(_):
            guide_trace = scored(pair.guide_fn)  # z_k(phi, eps)
            # log w with constant parameters: its gradient is the path derivative through z only.
            guide_path = scored(with_constant_parameters(pair.guide_fn), guide_trace)
            model_path = scored(with_constant_parameters(pair.model_fn), guide_trace)
            # log p with constant samples: its gradient is the model's, grad_theta log p(x, z_k).
            model_theta = scored(pair.model_fn, particles.derived(guide_trace, frozen_samples))
            return guide_path, model_path, model_theta

        guide_path, model_path, model_theta = particles.run(traces, K, "dreg")
        if not all(
            is_reparameterized(site)
            for site in guide_path.nodes.values()
            if site["type"] == "sample"
        ):
            raise ValueError("dreg needs a fully reparameterizable guide; use 'vimco' or 'rws'")
        log_w = weights(model_path, guide_path).log_w  # (K, N), or (K, 1) joint
        log_p_theta = weights(model_theta, guide_path).log_p
        weights_ = torch.softmax(log_w.detach(), dim=0)  # w~_k
        bound = torch.logsumexp(log_w.detach(), dim=0) - math.log(K)
        surrogate = (
            bound
            + (weights_.pow(2) * (log_w - log_w.detach())).sum(0)
            + (weights_ * (log_p_theta - log_p_theta.detach())).sum(0)
        )
        return -surrogate.sum()
