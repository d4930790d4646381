"""Importance weights ``log w = log p(x, z) - log q(z | x)``, ``z ~ q``, of any model/guide pair.

The building block of the multi-sample estimators (``iwae``, ``dreg``, ``vimco``, ``rws``, NVIL)
and of every bound and estimate in :mod:`ppgen.evaluation`: the ELBO is the weights' mean, the
importance-weighted bound and the log-likelihood estimate their log-mean-exp. Samples are drawn in
one vectorized pass (a plate over samples to the left of the program's plates).

What "per data point" means for a user's program:

- The **data plate** is the vectorized plate that the observed sites vary over (found by
  :func:`ppgen.program.inspection.inspect_program`, or named). Its size in a trace (the subsample
  size when the plate subsamples) is the number of points of that call.
- A site inside the data plate contributes to its point's weight; nested plates, sequential
  plates (``for i in pyro.plate(...)``, which add no tensor dimension) and ``pyro.markov`` chains
  are summed into it. Scales (subsampling) and masks are applied, as in Pyro's ELBOs.
- A site outside it (a **global** latent, or a program without a data plate) contributes to every
  point's weight at once. Weights are then only defined for the whole batch:
  :meth:`WeightParts.joint` gives ``log w_s = global_s + sum_n local_sn``, the quantity of Pyro's
  ``RenyiELBO(alpha=0)``, so a K-sample bound is ``log (1/K) sum_k w_k`` of the joint of the
  globals and the batch's locals (with the minibatch scale on the locals).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyro.poutine as poutine
import torch
from pyro.poutine.messenger import Messenger

from .particles import ParticleDraws
from .sites import SAMPLE_PLATE, is_index_site, is_reparameterized, latent_sites


@dataclass
class WeightParts:
    """The halves of the log importance weights.

    ``log_p``, ``log_q``: per data point, ``(num_samples, num_points)``; ``log_q_score`` is the part
    of ``log q`` from guide sites that are not reparameterized (the ones a score-function estimator
    needs). ``*_global``: sites outside the data plate, ``(num_samples,)``; ``has_global`` says
    whether there are any (a model with global latents), in which case only :meth:`joint` weights
    are meaningful. ``reparameterized`` says whether every guide site has a reparameterized sampler.
    """

    log_p: torch.Tensor
    log_q: torch.Tensor
    log_q_score: torch.Tensor
    log_p_global: torch.Tensor
    log_q_global: torch.Tensor
    log_q_score_global: torch.Tensor
    reparameterized: bool
    has_global: bool

    @property
    def log_w(self) -> torch.Tensor:
        return self.log_p - self.log_q

    def joint(self) -> WeightParts:
        """The weights of the whole batch as one point, ``(num_samples, 1)``: globals plus the
        sum of the locals. Per-datapoint estimators apply to these when :attr:`has_global`."""

        def total(local, glob):
            return (local.sum(-1) + glob).unsqueeze(-1)

        zero = torch.zeros_like(self.log_p_global)
        return replace(
            self,
            log_p=total(self.log_p, self.log_p_global),
            log_q=total(self.log_q, self.log_q_global),
            log_q_score=total(self.log_q_score, self.log_q_score_global),
            log_p_global=zero,
            log_q_global=zero,
            log_q_score_global=zero,
            has_global=False,
        )

    def per_point_or_joint(self) -> WeightParts:
        """Per-datapoint weights where every site is local, else :meth:`joint`."""
        return self.joint() if self.has_global else self


def split_log_prob(trace, data_plate: str | None, sample_dim: int, sites=None):
    """``(local, global)``: the sample sites' scaled and masked log-densities summed per data point
    ``(num_samples, num_points)`` and outside the data plate ``(num_samples,)``.

    ``sample_dim`` is the (negative) dimension of the vectorized sample plate; only vectorized
    plates have a tensor dimension, so sequential plates are summed over like any other site.
    ``sites`` restricts the sum to those names.
    """
    local = global_ = None
    for name, site in latent_sites(trace):
        if sites is not None and name not in sites:
            continue
        log_prob = site["log_prob"]  # scaled and masked, batch dims aligned to the right
        log_prob = log_prob.reshape((1,) * max(0, -sample_dim - log_prob.dim()) + log_prob.shape)
        frames = {f.name: f for f in site["cond_indep_stack"] if f.vectorized}
        samples = frames[SAMPLE_PLATE].size if SAMPLE_PLATE in frames else 1
        # (samples, *plates), every plate dimension present (broadcast where the site has 1).
        log_prob = log_prob.movedim(sample_dim, 0)
        if data_plate in frames:
            frame = frames[data_plate]
            points = log_prob.movedim(frame.dim, -1)  # (samples, ..., points)
            points = points.reshape(points.shape[0], -1, points.shape[-1]).sum(1)
            # A plate without a size (pyro.plate("data")) has the size its sites broadcast to.
            points = points.expand(samples, max(frame.size, points.shape[-1]))
            local = points if local is None else local + points
        else:
            total = log_prob.reshape(log_prob.shape[0], -1).sum(1).expand(samples)
            global_ = total if global_ is None else global_ + total
    return local, global_


class _DetachSamples(Messenger):
    """Makes every sampled value a constant (no gradient path back to the guide)."""

    def _pyro_post_sample(self, msg):
        if not msg["is_observed"]:
            msg["value"] = msg["value"].detach()


def compute_log_prob(trace):
    """``trace`` with every site's ``log_prob`` computed (not the plates' index sites)."""
    trace.compute_log_prob(site_filter=lambda name, site: not is_index_site(site))
    return trace


def scored_trace(fn, args: tuple, kwargs: dict, replay_from=None):
    """Trace ``fn(*args, **kwargs)`` (replaying latent values and plate indices from
    ``replay_from``), with every site's ``log_prob`` computed. The plates' index sites stay in
    the trace, so that a model replayed on it subsamples the same rows as the guide;
    :func:`latent_sites` skips them."""
    if replay_from is not None:
        fn = poutine.replay(fn, trace=replay_from)
    return compute_log_prob(poutine.trace(fn).get_trace(*args, **kwargs))


def assemble(model_trace, guide_trace, data_plate, sample_dim) -> WeightParts:
    """:class:`WeightParts` from scored, vectorized model and guide traces."""
    score_sites = {
        name
        for name, site in guide_trace.nodes.items()
        if site["type"] == "sample" and not is_reparameterized(site)
    }
    p_local, p_global = split_log_prob(model_trace, data_plate, sample_dim)
    q_local, q_global = split_log_prob(guide_trace, data_plate, sample_dim)
    s_local, s_global = split_log_prob(guide_trace, data_plate, sample_dim, score_sites)
    # Every program observes something, so the model has a term; its shape fixes the others'.
    reference_local = p_local if p_local is not None else q_local
    reference_global = p_global if p_global is not None else q_global
    if reference_local is None:  # no data plate: one "point", the whole call
        num_samples = reference_global.shape[0]
        reference_local = reference_global.new_zeros(num_samples, 1)
    if reference_global is None:
        reference_global = reference_local.new_zeros(reference_local.shape[0])

    def filled(value, like):
        return torch.zeros_like(like) if value is None else value.expand_as(like)

    has_global = any(v is not None for v in (p_global, q_global))
    return WeightParts(
        log_p=filled(p_local, reference_local),
        log_q=filled(q_local, reference_local),
        log_q_score=filled(s_local, reference_local),
        log_p_global=filled(p_global, reference_global),
        log_q_global=filled(q_global, reference_global),
        log_q_score_global=filled(s_global, reference_global),
        reparameterized=not score_sites,
        has_global=has_global,
    )


def weight_parts(
    model_fn,
    guide_fn,
    args: tuple,
    kwargs: dict,
    num_samples: int,
    data_plate: str | None,
    nesting: int,
    detach_samples: bool = False,
    draws: ParticleDraws | None = None,
) -> WeightParts:
    """Draw ``num_samples`` guide samples, in one vectorized pass where the program allows, and
    score them.

    No input checks (estimators call this every step); differentiable: reparameterized samples
    carry gradients to the guide's parameters unless ``detach_samples``. ``args``/``kwargs`` are
    the programs' arguments. ``draws`` remembers, between calls, whether the program runs with
    vectorized draws (:mod:`ppgen.program.particles`): one that does not is drawn one particle at
    a time, said once; one that fails either way raises a
    :class:`~ppgen.program.errors.ProgramError` naming the site.
    """

    sample_dim = -nesting - 1
    if detach_samples:
        guide_fn = _DetachSamples()(guide_fn)

    def traces(particles: ParticleDraws):
        guide_trace = particles.trace(
            guide_fn, args, kwargs, num_samples, sample_dim, score=compute_log_prob
        )
        model_trace = particles.trace(
            model_fn, args, kwargs, num_samples, sample_dim, guide_trace, compute_log_prob
        )
        return model_trace, guide_trace

    particles = ParticleDraws() if draws is None else draws
    model_trace, guide_trace = particles.run(traces, num_samples, "the importance weights")
    return assemble(model_trace, guide_trace, data_plate, sample_dim)
