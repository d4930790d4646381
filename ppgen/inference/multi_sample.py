"""Shared base of the multi-sample estimators (``iwae``, ``dreg``, ``vimco``, ``rws``, NVIL).

They all draw K samples in one vectorized pass, score them as importance weights
``log w_k = log p(x, z_k) - log q(z_k | x)`` (:func:`ppgen.program.importance.weight_parts`), and
turn them into a surrogate whose value is the K-sample bound ``log (1/K) sum_k w_k`` and whose
gradient is the estimator's.

Per data point where every site lies in the data plate, so a datapoint's value does not depend on
the batch it is in. A model with global latents (or without a data plate) has weights only for
the batch as a whole: the bound is then over the joint of the globals and the batch's locals,
Pyro's ``RenyiELBO(alpha=0)``, with the minibatch scale on the locals
(:meth:`~ppgen.program.importance.WeightParts.joint`). It is a bound on ``log p(x_1..N)``.

Recipe for a new one: subclass, implement :meth:`surrogate`, declare what it needs
(:mod:`ppgen.inference.estimator`) and register the class with ``@ESTIMATORS.register(name)``.
"""

from __future__ import annotations

import math

import torch

from ..program.importance import WeightParts, weight_parts
from ..program.particles import ParticleDraws
from ..program.program import PairCache
from .estimator import Estimator


class MultiSampleEstimator(Estimator):
    """A loss callable ``estimator(model, guide, *args, **kwargs) -> -sum surrogate`` over K
    samples; ``num_particles=None`` is the estimator's ``default_num_particles``."""

    name = "multi-sample"
    #: Whether guide samples are constants for this estimator (no reparameterized path).
    detach_samples = False
    #: Importance weights p/q need a guide site for every model latent.
    needs_guide_site_for_every_latent = True

    def __init__(self, num_particles: int | None = None, max_plate_nesting: int | None = None):
        if num_particles is None:
            num_particles = self.default_num_particles
        self.num_particles = self.check_num_particles(num_particles)
        self._pair = PairCache(nesting=max_plate_nesting)
        #: Vectorized draws, or one at a time for a program that does not broadcast over them.
        self.particles = ParticleDraws()

    @property
    def max_plate_nesting(self) -> int | None:
        return self._pair.nesting

    @max_plate_nesting.setter
    def max_plate_nesting(self, value: int | None) -> None:
        self._pair = PairCache(self._pair.data_plate, value)

    @property
    def data_plate(self) -> str | None:
        return self._pair.data_plate

    @data_plate.setter
    def data_plate(self, value: str | None) -> None:
        self._pair = PairCache(value, self._pair.nesting)

    def resolve(self, model, guide, args: tuple, kwargs: dict):
        return self._pair(model, guide, args, kwargs)

    def parts(self, model, guide, *args, **kwargs) -> WeightParts:
        """The weights of this call, per data point or joint (see the module docstring)."""
        pair = self.resolve(model, guide, args, kwargs)
        parts = weight_parts(
            pair.model_fn,
            pair.guide_fn,
            args,
            kwargs,
            self.num_particles,
            pair.data_plate,
            pair.nesting,
            self.detach_samples,
            self.particles,
        )
        if self.needs_reparameterized and not parts.reparameterized:
            raise ValueError(
                f"{self.name} differentiates through reparameterized samples, but this guide "
                "has non-reparameterizable (e.g. discrete) sites; use estimator='vimco', "
                "'rws' or 'tracegraph'"
            )
        return parts.per_point_or_joint()

    @staticmethod
    def bound(log_w: torch.Tensor) -> torch.Tensor:
        """``log (1/K) sum_k w_k`` per data point; ``log_w`` is ``(K, batch)``."""
        return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])

    def surrogate(self, parts: WeightParts) -> torch.Tensor:
        """Per-datapoint surrogate ``(batch,)``: value = the bound, gradient = the estimator's."""
        raise NotImplementedError

    def __call__(self, model, guide, *args, **kwargs) -> torch.Tensor:
        """``args``/``kwargs`` go to model and guide."""
        return -self.surrogate(self.parts(model, guide, *args, **kwargs)).sum()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_particles={self.num_particles})"
