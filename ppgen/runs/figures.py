"""The figures of a fitted run (:func:`write_figures`): loss curves, sample grids, reconstructions,
latent maps and 2-D densities, as PNG files in its run folder."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import Dataset
from ..models.base import GenerativeModel
from ..plots import (
    image_grid,
    plot_densities_2d,
    plot_history,
    plot_latent_codes,
    plot_latent_interpolation,
    plot_latent_manifold,
    plot_reconstructions,
    plot_samples_2d,
    unflatten_images,
)
from .scoring import NUM_SCORED_SAMPLES, sample_kde
from .tables import save_figure


def image_meta(data: Dataset) -> tuple | None:
    """``(image_shape, kept_columns)`` for image data, else ``None``."""
    if data.image_shape is None:
        return None
    return data.image_shape, data.kept_columns


@torch.no_grad()
def write_figures(model: GenerativeModel, data: Dataset, run_dir: Path, history=None) -> list[str]:
    """The figures of a fitted run, as PNG files in ``run_dir``; returns their file names.

    Always the loss curve (given a ``history``). Image data: a sample grid (one row per class for a
    conditional model); for models with an ``encode`` / ``decode`` pair (VAE) also
    reconstructions, latent interpolations, the posterior means coloured by class and, with two
    latent dimensions, the decoded latent grid. 2-D data: the model's density (for a model without
    a likelihood, a kernel density estimate of its samples) next to the data and the true density
    where the data set knows it, and the model's samples over the data.
    """

    written = []

    def save(fig, name):
        save_figure(fig, run_dir / name)
        written.append(name)

    if history is not None:
        save(plot_history(history), "loss.png")
    test = data.test.to(model.device)
    images = image_meta(data)
    if images is not None:
        if model.conditional:
            per_class = 6
            y = torch.arange(model.num_classes, device=model.device).repeat_interleave(per_class)
            samples = model.sample(len(y), y=y)
            grid = image_grid(
                unflatten_images(samples, *images), ncols=per_class * 2, suptitle="samples by class"
            )
        else:
            grid = image_grid(unflatten_images(model.sample(40), *images), suptitle="model samples")
        save(grid, "samples.png")
        if model.autoencodes and not model.conditional:
            shown = test[:10]
            save(
                plot_reconstructions(shown, model.reconstruct(shown), *images),
                "reconstructions.png",
            )
            save(
                plot_latent_interpolation(model, test[:4], test[4:8], *images), "interpolation.png"
            )
            if model.latent_dim >= 2:
                save(plot_latent_codes(model, test, data.test_labels), "latent_codes.png")
            if model.latent_dim == 2:
                save(plot_latent_manifold(model, *images), "latent_manifold.png")
    if data.num_features == 2:
        if model.has_exact_log_prob:
            densities = {"model density": model.log_prob}
        else:  # a kernel density estimate of the model's samples
            densities = {
                "density of samples (KDE)": sample_kde(model.sample(NUM_SCORED_SAMPLES), data)
            }
        if data.log_density is not None:
            densities["true density"] = data.log_density
        if densities:
            save(plot_densities_2d(test, densities), "density.png")
        save(plot_samples_2d(test, model.sample(len(test))), "samples.png")
    return written
