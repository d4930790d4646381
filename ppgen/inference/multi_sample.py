"""Shared base of the multi-sample estimators (``iwae``, ``vimco``).

They all draw K samples per data point in one vectorized pass, score them as importance weights
``log w_k = log p(x, z_k) - log q(z_k | x)`` (:func:`ppgen.evaluation.importance.weight_parts`), and
turn them into a per-datapoint surrogate whose value is the K-sample bound
``log (1/K) sum_k w_k`` and whose gradient is the estimator's. Everything is per data point, so a
datapoint's value does not depend on the batch it is in.

Recipe for a new one: subclass, implement :meth:`surrogate`, register a factory.
"""

from __future__ import annotations

import math

import torch

from ..evaluation.importance import WeightParts, plate_nesting, weight_parts
from ..models.base import split_pair


class MultiSampleEstimator:
    """A loss callable ``estimator(model, guide, x) -> -sum_n surrogate_n`` over K samples."""

    name = "multi-sample"

    def __init__(self, num_particles: int = 1, max_plate_nesting: int | None = None):
        if not isinstance(num_particles, int) or num_particles < 1:
            raise ValueError(f"num_particles must be a positive int, got {num_particles!r}")
        self.num_particles = num_particles
        self.max_plate_nesting = max_plate_nesting
        self.__name__ = self.name  # what fit() reports as the objective

    #: Whether guide samples are constants for this estimator (no reparameterized path).
    detach_samples = False
    #: A pure function of the samples, no state between calls: ``fit`` may trace it.
    traceable = True

    def resolve(self, model, guide, x: torch.Tensor, **kwargs) -> tuple[object, object, str, int]:
        """``(model_fn, guide_fn, data_plate, max_plate_nesting)``, the nesting found once by
        tracing for plain functions."""
        model_fn, guide_fn, data_plate, nesting = split_pair((model, guide))
        nesting = nesting if nesting is not None else self.max_plate_nesting
        if nesting is None:
            self.max_plate_nesting = nesting = plate_nesting(model_fn, guide_fn, x, **kwargs)
        return model_fn, guide_fn, data_plate, nesting

    def parts(self, model, guide, x: torch.Tensor, **kwargs) -> WeightParts:
        model_fn, guide_fn, data_plate, nesting = self.resolve(model, guide, x, **kwargs)
        return weight_parts(
            model_fn,
            guide_fn,
            x,
            self.num_particles,
            data_plate,
            nesting,
            self.detach_samples,
            **kwargs,
        )

    @staticmethod
    def bound(log_w: torch.Tensor) -> torch.Tensor:
        """``log (1/K) sum_k w_k`` per data point; ``log_w`` is ``(K, batch)``."""
        return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])

    def surrogate(self, parts: WeightParts) -> torch.Tensor:
        """Per-datapoint surrogate ``(batch,)``: value = the bound, gradient = the estimator's."""
        raise NotImplementedError

    def __call__(self, model, guide, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """``kwargs`` go to model and guide (e.g. labels ``y``)."""
        return -self.surrogate(self.parts(model, guide, x, **kwargs)).sum()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_particles={self.num_particles})"
