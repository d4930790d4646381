"""scikit-learn's bundled 8x8 handwritten digits (1797 images, pixel levels 0..16).

Split by row as fixed in the design: 0-999 train, 1000-1349 validation, 1350-1796 test. Three
pixels (0, 32 and 39) are 0 in every image; ``load_dataset("digits", drop_constant=True)`` removes
them, leaving 61 features. A Gaussian model needs that, because a zero-variance dimension has an
unbounded likelihood.
"""

from __future__ import annotations

import torch

from ..registry import DATASETS
from .dataset import Dataset

TRAIN_END, VAL_END = 1000, 1350


def load_digits() -> Dataset:
    """Raw digits: float pixel levels 0..16, labels, an 8x8 image shape and 17 levels."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = torch.as_tensor(bunch.data, dtype=torch.float32)
    y = torch.as_tensor(bunch.target, dtype=torch.long)
    return Dataset(
        name="digits",
        train=x[:TRAIN_END],
        val=x[TRAIN_END:VAL_END],
        test=x[VAL_END:],
        train_labels=y[:TRAIN_END],
        val_labels=y[TRAIN_END:VAL_END],
        test_labels=y[VAL_END:],
        values="levels",
        image_shape=(8, 8),
        num_levels=17,
        num_classes=10,
        meta={"source": "sklearn.datasets.load_digits (UCI optical digits, test part)"},
    )


DATASETS.register(
    "digits",
    load_digits,
    description="scikit-learn's 8x8 digits, levels 0..16 (bundled)",
    quantized_image=True,
)
