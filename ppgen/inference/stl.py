"""``stl``: sticking the landing (Roeder, Wu & Duvenaud 2017), the path-derivative ELBO gradient.

The reparameterized ELBO gradient of the guide has two parts: the path derivative through the
sample ``z(phi, eps)`` and the score ``-grad_phi log q(z | x)`` at fixed ``z``, whose mean is zero.
STL drops the score: ``log q`` is evaluated with the guide's parameters held constant
(:func:`ppgen.program.constant_parameters.with_constant_parameters`), so its gradient flows
through ``z`` only. Unbiased for the ELBO's gradient, with zero variance when ``q`` is the exact
posterior. Needs a reparameterized guide; the model's gradient is the ELBO's. The value is the
K-sample mean of the ELBO, per data point (or of the joint, with global latents).
"""

from __future__ import annotations

from ..program.constant_parameters import with_constant_parameters
from ..program.importance import assemble, compute_log_prob
from ..registry import ESTIMATORS
from .multi_sample import MultiSampleEstimator


@ESTIMATORS.register(
    "stl", description="sticking the landing: path-derivative ELBO gradient (Roeder et al. 2017)"
)
class StickingTheLanding(MultiSampleEstimator):
    """The ELBO with its guide gradient through the samples only, K particles averaged."""

    name = "stl"
    needs_reparameterized = True
    # torch.func.functional_call (the constant-parameter pass) refuses to run under a trace.
    traceable = False
    needs_guide_site_for_every_latent = True

    def __call__(self, model, guide, *args, **kwargs):
        pair = self.resolve(model, guide, args, kwargs)
        sample_dim, K = -pair.nesting - 1, self.num_particles
        particles = self.particles

        def scored(fn, replay_from=None):
            return particles.trace(fn, args, kwargs, K, sample_dim, replay_from, compute_log_prob)

        def traces(_):
            guide_trace = scored(pair.guide_fn)  # z_k(phi, eps)
            guide_path = scored(with_constant_parameters(pair.guide_fn), guide_trace)
            return scored(pair.model_fn, guide_trace), guide_path

        model_trace, guide_path = particles.run(traces, K, "stl")
        parts = assemble(model_trace, guide_path, pair.data_plate, sample_dim)
        return -parts.per_point_or_joint().log_w.mean(0).sum()
