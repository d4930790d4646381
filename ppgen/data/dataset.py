"""The ``Dataset`` container that every loader returns.

A ``Dataset`` holds three float tensors ``train``, ``val`` and ``test`` of shape
``(num_points, num_features)``, optional integer labels for each split, a ``meta`` dictionary
(image shape, pixel levels, preprocessing applied, true parameters of synthetic data...) and, for
synthetic data, the true log-density.

Stochastic preprocessing that must be redrawn for every minibatch (dynamic binarization, uniform
dequantization of the training split) is expressed by :meth:`Dataset.train_batch`: the trainer asks
for training batches through it, so it never needs to know which scheme is in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

# A redraw function maps (clean training rows, generator) -> freshly preprocessed rows.
Redraw = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class Dataset:
    """Train/validation/test splits of one data set.

    Attributes:
        name: the registered name the data set was loaded under.
        train, val, test: float tensors of shape ``(num_points, num_features)``.
        meta: facts about the data: ``image_shape`` and ``kept_columns`` for images, ``num_levels``
            for quantized pixels, the preprocessing applied, true parameters of synthetic data.
        train_labels, val_labels, test_labels: integer class labels, where the data set has them.
        log_density: the true log-density ``x -> (num_points,)`` of synthetic data, else ``None``.
        train_source: the clean training rows that ``redraw`` turns into fresh training batches
            (pixel intensities in [0, 1] or raw levels), else ``None``.
        redraw: the per-batch preprocessing (dynamic binarization or dequantization), else ``None``.
    """

    name: str
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    meta: dict = field(default_factory=dict)
    train_labels: torch.Tensor | None = None
    val_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    log_density: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)
    train_source: torch.Tensor | None = field(default=None, repr=False)
    redraw: Redraw | None = field(default=None, repr=False)

    @property
    def num_features(self) -> int:
        """Number of features (columns) per data point."""
        return self.train.shape[1]

    def train_batch(self, index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Training rows ``index``, with per-batch preprocessing freshly drawn where it applies.

        ``generator`` must live on the data's device; it makes the redraw reproducible and is saved
        in checkpoints by the trainer.
        """
        if self.redraw is None:
            return self.train[index]
        return self.redraw(self.train_source[index], generator)

    def to(self, device: torch.device | str) -> Dataset:
        """A copy of the data set with every tensor on ``device``."""

        def move(t):
            return None if t is None else t.to(device)

        return replace(
            self,
            train=move(self.train),
            val=move(self.val),
            test=move(self.test),
            train_labels=move(self.train_labels),
            val_labels=move(self.val_labels),
            test_labels=move(self.test_labels),
            train_source=move(self.train_source),
        )

    def __repr__(self) -> str:
        sizes = f"train={tuple(self.train.shape)}, val={tuple(self.val.shape)}, "
        sizes += f"test={tuple(self.test.shape)}"
        return f"Dataset({self.name!r}, {sizes})"
