"""Binarization, dequantization and constant-column removal for quantized image data.

Image loaders return raw pixel levels (digits: 0..16, MNIST: 0..255) together with
``num_levels`` (17, 256). The schemes here follow the conventions of the literature:

- ``"threshold"``: pixel >= half of the top level (digits: >= 8 of 16, MNIST: >= 128).
- ``"fixed"``: one seeded Bernoulli draw with probability level / top level, stored; the
  "stochastically binarized" data of Salakhutdinov & Murray (2008).
- ``"dynamic"``: as ``"fixed"`` for the stored splits, but the trainer draws a fresh binarization of
  every training batch (Burda et al. 2016), so a model never sees the same binary image twice.
- dequantization: ``(level + u) / num_levels`` with ``u ~ U[0, 1)``, which turns a discrete
  distribution into a density on [0, 1)^D whose log-likelihood lower-bounds the discrete one after
  subtracting ``D log num_levels`` (Theis et al. 2016). Training batches get fresh noise.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import torch

from ..validation import check_name, constant_columns
from .dataset import Dataset

BINARIZE_SCHEMES = ("threshold", "fixed", "dynamic")


def bernoulli_draw(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One Bernoulli draw per entry of ``probs``, as a float tensor of 0s and 1s."""
    return torch.bernoulli(probs, generator=generator)


def uniform_dequantize(levels: torch.Tensor, num_levels: int, generator: torch.Generator):
    """Map integer pixel levels to ``(level + u) / num_levels`` with fresh ``u ~ U[0, 1)``."""
    noise = torch.rand(levels.shape, generator=generator, device=levels.device, dtype=levels.dtype)
    return (levels + noise) / num_levels


def _split_generators(seed: int) -> list[torch.Generator]:
    # One independent stream per split, so that e.g. the test binarization does not depend on the
    # size of the training split. The seeds are hashed (the CPU generator keeps 32 bits) so that
    # none of them is the stream the trainer seeds with the same `seed` for per-batch redraws.
    def derived(split: int) -> int:
        digest = hashlib.sha256(f"ppgen.data/{seed}/{split}".encode()).digest()
        return int.from_bytes(digest[:4], "big")

    return [torch.Generator().manual_seed(derived(split)) for split in range(3)]


def drop_constant_columns(data: Dataset) -> Dataset:
    """Remove the columns that are constant over all three splits (digits: pixels 0, 32, 39).

    The kept column indices go to ``kept_columns`` so that figures can put the pixels back into
    their images.
    """
    everything = torch.cat([data.train, data.val, data.test])
    dropped = constant_columns(everything)
    kept = [c for c in range(everything.shape[1]) if c not in dropped]
    previous = data.kept_columns or range(everything.shape[1])
    return replace(
        data,
        train=data.train[:, kept],
        val=data.val[:, kept],
        test=data.test[:, kept],
        meta=dict(data.meta, dropped_columns=dropped),
        kept_columns=tuple(previous[c] for c in kept),
    )


def binarize(data: Dataset, scheme: str, seed: int) -> Dataset:
    """Binarize a quantized image data set with ``scheme`` (see the module docstring)."""
    check_name(scheme, BINARIZE_SCHEMES, "binarization scheme")
    top = data.num_levels - 1
    meta = dict(data.meta, binarize=scheme)
    if scheme == "threshold":
        cut = math.ceil(top / 2)
        splits = [(s >= cut).to(s.dtype) for s in (data.train, data.val, data.test)]
        return replace(
            data, train=splits[0], val=splits[1], test=splits[2], meta=meta, values="binary"
        )
    generators = _split_generators(seed)
    probs = [s / top for s in (data.train, data.val, data.test)]
    splits = [bernoulli_draw(p, g) for p, g in zip(probs, generators)]
    redraw = bernoulli_draw if scheme == "dynamic" else None
    return replace(
        data,
        train=splits[0],
        val=splits[1],
        test=splits[2],
        meta=meta,
        train_source=probs[0] if redraw else None,
        redraw=redraw,
        values="binary",
    )


def dequantize(data: Dataset, seed: int) -> Dataset:
    """Uniformly dequantize a quantized image data set (see the module docstring)."""
    num_levels = data.num_levels
    generators = _split_generators(seed)
    splits = [
        uniform_dequantize(s, num_levels, g)
        for s, g in zip((data.train, data.val, data.test), generators)
    ]

    def redraw(levels, generator):
        return uniform_dequantize(levels, num_levels, generator)

    return replace(
        data,
        train=splits[0],
        val=splits[1],
        test=splits[2],
        meta=dict(data.meta, dequantize="uniform"),
        train_source=data.train,
        redraw=redraw,
        values="unit",
        # log p(discrete x) >= log p(dequantized x) - log_det; bits/dim use it.
        dequantization_log_det=data.train.shape[1] * math.log(num_levels),
    )
