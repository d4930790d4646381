"""The exact-equivalence test mode: every rank draws the noise of the whole global batch.

In normal data-parallel training each rank draws its own noise (seeded from ``seed`` and its
rank), so a W-process run and a one-process run with ``W * B`` rows per step are equal in
distribution, not draw for draw. To check the machinery exactly (sharding, loss weights, gradient
averaging, optimizer state), ``fit(..., distributed_noise="global_batch")`` makes every rank seed
its programs alike and, at each latent site inside the data plate, draw the standard-normal noise
of the *global* batch, ``(..., W * B, ...)``, and keep its own rows. A one-process run draws the
same tensor, so both runs follow each other step for step, up to the order of floating-point sums.

Reparameterized Normal and multivariate Normal latents (alone or under ``to_event``), which the
bundled PPCA, factor analysis and VAE guides use, are supported; any other latent inside the data
plate is refused by name. The mode costs W times the sampling work: it is for tests.
"""

from __future__ import annotations

import torch
from pyro.poutine.messenger import Messenger
from torch.distributions import Independent, MultivariateNormal, Normal
from torch.distributions.multivariate_normal import _batch_mv


class GlobalBatchNoise(Messenger):
    """Draws latent sites of ``plate`` as rows ``[offset, offset + length)`` of a draw for
    ``total`` rows. Install it *outside* the ELBO call, so that it sees each site after every
    plate (the ELBO's particle plate too) has broadcast it."""

    def __init__(self, plate: str, offset: int, length: int, total: int):
        super().__init__()
        self.plate, self.offset, self.length, self.total = plate, offset, length, total

    def _process_message(self, msg):
        if msg["type"] != "sample" or msg["is_observed"] or msg["value"] is not None:
            return
        frame = next(
            (f for f in msg["cond_indep_stack"] if f.name == self.plate and f.vectorized), None
        )
        if frame is None:
            return  # a global latent: every rank draws it alike, as one process would
        msg["value"] = self.draw(msg["name"], msg["fn"], frame.dim)

    def draw(self, name: str, fn, plate_dim: int) -> torch.Tensor:
        base, event_dims = fn, 0
        while isinstance(base, Independent):
            base, event_dims = base.base_dist, event_dims + base.reinterpreted_batch_ndims
        if not isinstance(base, (Normal, MultivariateNormal)):
            raise ValueError(
                f"distributed_noise='global_batch' draws reparameterized Normal and "
                f"MultivariateNormal latents only; site {name!r} is {type(base).__name__}"
            )
        shape = list(base.batch_shape + base.event_shape)
        dim = plate_dim - event_dims - len(base.event_shape)  # the plate's place in `shape`
        if shape[dim] != self.length:
            raise ValueError(
                f"site {name!r}: its data-plate dimension has {shape[dim]} rows, expected "
                f"this rank's {self.length}"
            )
        shape[dim] = self.total
        # What Normal.rsample and MultivariateNormal.rsample draw for the whole batch.
        eps = torch.empty(shape, dtype=base.loc.dtype, device=base.loc.device).normal_()
        eps = eps.narrow(dim, self.offset, self.length)
        if isinstance(base, Normal):
            return base.loc + eps * base.scale
        return base.loc + _batch_mv(base._unbroadcasted_scale_tril, eps)
