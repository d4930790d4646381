"""Figures: unflattening puts kept pixels back; plot functions return figures with content."""

import numpy as np
import pandas as pd

from ppgen.plots import image_grid, plot_exact_vs_estimate, plot_history, unflatten_images


def test_unflatten_restores_dropped_pixels_as_fill():
    x = np.arange(6, dtype=float)[None] + 1  # 6 kept pixels of a 2x4 image
    images = unflatten_images(x, (2, 4), kept_columns=[0, 1, 2, 4, 5, 6], fill=0)
    assert images.shape == (1, 2, 4)
    assert images[0].tolist() == [[1, 2, 3, 0], [4, 5, 6, 0]]


def test_figures_have_content():
    history = pd.DataFrame({"step": [1, 2], "loss": [3.0, 2.0], "val_loss": [np.nan, 2.5]})
    assert len(plot_history(history).axes[0].lines) == 2
    assert len(image_grid(np.zeros((3, 2, 2))).axes) == 3
    fig = plot_exact_vs_estimate([1, 2], [1.1, 2.1])
    assert len(fig.axes[0].collections) == 1
