"""The ``Dataset`` container that every loader returns.

A ``Dataset`` holds three float tensors ``train``, ``val`` and ``test`` of shape
``(num_points, num_features)``, optional integer labels for each split, and what the data set
declares about itself as typed fields, which scoring, figures and the CLI read: the kind of
``values`` (raw pixel levels, binary, in [0, 1) or real), the ``image_shape`` and pixel
``num_levels`` of images, the ``mode_centers`` of a Gaussian mixture, and the true
``log_density`` of synthetic data. ``meta`` holds the rest (true parameters of synthetic data,
the preprocessing applied, where the data came from) and, for older code, the typed facts under
their former keys (``meta["image_shape"]``, ``meta["centers"]``...).

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

#: What a data set's values are: raw quantized pixel levels ``0..num_levels-1``, 0/1, values in
#: [0, 1) (dequantized pixels), or any reals.
VALUE_KINDS = ("levels", "binary", "unit", "real")
#: The typed facts and the ``meta`` keys they were known by.
META_KEYS = {
    "image_shape": "image_shape",
    "num_levels": "num_levels",
    "num_classes": "num_classes",
    "kept_columns": "kept_columns",
    "mode_centers": "centers",
    "mode_std": "std",
    "dequantization_log_det": "dequantization_log_det",
}


@dataclass(frozen=True)
class Dataset:
    """Train/validation/test splits of one data set.

    Attributes:
        name: the registered name the data set was loaded under.
        train, val, test: float tensors of shape ``(num_points, num_features)``.
        meta: other facts about the data (the preprocessing applied, true parameters of
            synthetic data, the source), and the typed facts below under their former keys.
        train_labels, val_labels, test_labels: integer class labels, where the data set has them.
        values: one of ``VALUE_KINDS``.
        image_shape: the pixel grid of image data, e.g. ``(8, 8)``, else ``None``.
        num_levels: the number of pixel levels of quantized images (17 for digits), else ``None``;
            binarization and dequantization apply to such data.
        num_classes: the number of classes of labelled data, else ``None``.
        kept_columns: for images whose constant pixels were dropped, the columns kept.
        mode_centers, mode_std: the means ``(K, D)`` and common standard deviation of a Gaussian
            mixture's modes (the 2-D toys), else ``None``; mode coverage is scored against them.
        dequantization_log_det: ``D log num_levels`` for dequantized images (bits per dimension).
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
    values: str = "real"
    image_shape: tuple[int, ...] | None = None
    num_levels: int | None = None
    num_classes: int | None = None
    kept_columns: tuple[int, ...] | None = None
    mode_centers: torch.Tensor | None = field(default=None, repr=False)
    mode_std: float | None = None
    dequantization_log_det: float | None = None

    def __post_init__(self):
        if self.values not in VALUE_KINDS:
            raise ValueError(f"values must be one of {VALUE_KINDS}, got {self.values!r}")
        if self.kept_columns is not None:
            object.__setattr__(self, "kept_columns", tuple(self.kept_columns))
        typed = {
            key: list(value) if attribute == "kept_columns" else value
            for attribute, key in META_KEYS.items()
            if (value := getattr(self, attribute)) is not None
        }
        object.__setattr__(self, "meta", {**self.meta, **typed})  # never the caller's dict

    @property
    def is_quantized_image(self) -> bool:
        """Whether the data are images of quantized pixel levels (binarization and
        dequantization apply)."""
        return self.num_levels is not None

    @property
    def has_exact_density(self) -> bool:
        """Whether the data set knows its true log-density (``log_density``)."""
        return self.log_density is not None

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
