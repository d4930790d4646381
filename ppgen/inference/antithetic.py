"""Antithetic Bernoulli draws, shared by ``arm`` (Yin & Zhou 2019) and ``disarm`` (Dong, Mnih &
Tucker 2020).

A Bernoulli draw ``b = 1[u < p]`` (``p = sigmoid(alpha)``, ``u`` uniform) has the antithetic twin
``b~ = 1[u > 1 - p]``, with the same distribution. The gradient of ``E[f(b)]`` in the logits
``alpha`` is ``E[(f(b~) - f(b)) (u - 1/2)]`` (ARM), or that with ``u`` integrated out given the
pair (DisARM, lower variance): ``E[1/2 (f(b) - f(b~)) (-1)^b~ 1[b != b~] sigmoid(|alpha|)]``. Each
holds for a vector of independent Bernoullis at once, with two evaluations of ``f``.

On a user's program, ``f`` is the learning signal ``log p(x, z) - log q(z | x)`` of the data point
(or of the batch's joint, with global latents), and every Bernoulli site of the guide gets its twin
in turn, in the guide's order: the sites before it replayed, the site flipped antithetically, the
sites after it drawn afresh (an unbiased estimate of ``f``'s expectation given the site). So one
estimate costs ``1 + (number of Bernoulli guide sites)`` runs of model and guide; a one-layer
sigmoid belief net costs two. ``u`` is drawn after ``b``, from its law given ``b`` (uniform below
``p`` where ``b = 1``, above it where ``b = 0``), so the first run is a plain draw of the guide.
Reparameterized sites keep their pathwise gradient, through the logits they feed too; the
model's gradient is the ELBO's.

The twins are drawn in one vectorized pass: a program that does not broadcast over a sample
dimension is refused with the reason (:func:`ppgen.program.errors.run_vectorized`).
"""

from __future__ import annotations

import torch

from ..program.errors import run_vectorized
from ..program.importance import assemble, compute_log_prob
from ..program.particles import ParticleDraws
from .multi_sample import MultiSampleEstimator
from .rloo import pathwise_elbo
from .site_passes import signal_for_site, site_logits, sites_of_families, upstream_with


class AntitheticEstimator(MultiSampleEstimator):
    """The ELBO with antithetic Bernoulli gradients (module docstring); K pairs averaged."""

    name = "antithetic"
    default_num_particles = 1
    discrete_families = ("Bernoulli",)
    discrete_families_reason = "antithetic twins flip Bernoulli draws"
    # A pure function of its random draws for a given program (the sites it loops over are the
    # program's, fixed for a trace), so fit may replay it from a checked compiled trace.
    traceable = True

    def coefficient(self, signal, twin_signal, u, b, twin, logits) -> torch.Tensor:
        """The estimate of ``d E[f] / d logits`` per element, from the pair's signals."""
        raise NotImplementedError

    def __call__(self, model, guide, *args, **kwargs) -> torch.Tensor:
        pair = self.resolve(model, guide, args, kwargs)
        K, sample_dim = self.num_particles, -pair.nesting - 1
        draws = ParticleDraws()

        def scored(fn, replay_from=None):
            return draws.trace(fn, args, kwargs, K, sample_dim, replay_from, compute_log_prob)

        def weights(guide_trace):
            model_trace = scored(pair.model_fn, guide_trace)
            parts = assemble(model_trace, guide_trace, pair.data_plate, sample_dim)
            return parts.per_point_or_joint()

        def estimate():
            guide_trace = scored(pair.guide_fn)
            base = weights(guide_trace)
            signal = base.log_w.detach()  # (K, points)
            total = pathwise_elbo(base).mean(0).sum()
            for name in sites_of_families(guide_trace):
                site = guide_trace.nodes[name]
                logits, b = site_logits(site), site["value"]
                p = torch.sigmoid(logits.detach())
                r = torch.rand_like(p)
                u = torch.where(b > 0.5, p * r, p + (1 - p) * r)  # u given b
                twin = (u > 1 - p).to(b)
                with torch.no_grad():  # the twin's signal is a constant: no graph to build
                    partial = upstream_with(guide_trace, name, twin)
                    twin_signal = weights(scored(pair.guide_fn, partial))
                layout = (pair.data_plate, sample_dim)
                coefficient = self.coefficient(
                    signal_for_site(signal, site, *layout),
                    signal_for_site(twin_signal.log_w.detach(), site, *layout),
                    u, b, twin, logits.detach(),
                )  # fmt: skip
                total = total + (coefficient * (logits - logits.detach())).sum() / K
            return total

        return -run_vectorized(estimate, K)

    def model_evaluations(self, info) -> int:
        """Runs of the model per estimate: ``K (1 + Bernoulli guide sites)``."""
        sites = [n for n, f in info.discrete_families.items() if f == "Bernoulli"]
        return self.num_particles * (1 + len(sites))
