"""Nearest-training-neighbour check: does a generator copy its training points?

For each generated sample, the distance to its nearest training point is compared with the same
distance for held-out points, which come from the data distribution but were never trained on. A
generator that matches the distribution without memorizing puts its samples as close to the
training set as fresh data are: the ratio of medians is near 1 and about 5% of samples fall below
the held-out points' 5th percentile. A generator that copies training points has a ratio well
below 1 and a ``copy_fraction`` near 1.
"""

from __future__ import annotations

import torch

from ..validation import check_data

#: torch.cdist without the |x|^2 + |y|^2 - 2xy shortcut, which is inexact for small distances.
EXACT = "donot_use_mm_for_euclid_dist"

#: Rows per distance block, so that memory stays at this many rows times the training size.
CHUNK = 1024


def nearest_neighbour_distances(points: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Euclidean distance from each row of ``points`` to its nearest row of ``reference``."""
    # Direct differences, not the matrix-product shortcut: that loses float32 precision on
    # distances much smaller than the points' norms (tight modes away from the origin).
    return torch.cat(
        [torch.cdist(c, reference, compute_mode=EXACT).min(1).values for c in points.split(CHUNK)]
    )


def memorization_check(
    samples: torch.Tensor, train: torch.Tensor, held_out: torch.Tensor, quantile: float = 0.05
) -> dict:
    """Nearest-training-neighbour distances of ``samples`` against those of ``held_out`` points.

    Returns:
        A dict: ``median_sample_distance``, ``median_held_out_distance``, their ``ratio``, and
        ``copy_fraction``: the fraction of samples nearer to the training set than the
        ``quantile`` of the held-out distances (about ``quantile`` without memorization).
    """
    samples = check_data(samples, name="samples")
    train = check_data(
        train, name="train", event_dim=samples.shape[1], dtype=samples.dtype, device=samples.device
    )
    held_out = check_data(
        held_out,
        name="held_out",
        event_dim=samples.shape[1],
        dtype=samples.dtype,
        device=samples.device,
    )
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile!r}")
    to_train = nearest_neighbour_distances(samples, train)
    held_out_to_train = nearest_neighbour_distances(held_out, train)
    threshold = torch.quantile(held_out_to_train, quantile)
    median_sample, median_held_out = float(to_train.median()), float(held_out_to_train.median())
    return {
        "median_sample_distance": median_sample,
        "median_held_out_distance": median_held_out,
        "ratio": median_sample / median_held_out if median_held_out > 0 else float("nan"),
        "copy_fraction": float((to_train < threshold).double().mean()),
    }
