"""Figures: loss curves, image grids (samples, loadings), and exact-versus-fitted comparisons.

Every function draws on a given matplotlib ``Axes`` (or makes a new figure) and returns the
``Figure``, so figures compose into panels and can be saved by the caller. Nothing here calls
``plt.show()``; the backend is the user's choice (the CLI uses Agg).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch


def _axes(ax, figsize=(5, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def plot_history(history: pd.DataFrame, *, ax=None, label: str | None = None, x: str = "step"):
    """Training loss (per data point) against ``x`` (``"step"`` or ``"wall_time"``), with the
    validation loss and the validation log-likelihood's negative where they were logged."""
    fig, ax = _axes(ax)
    prefix = f"{label}: " if label else ""
    ax.plot(history[x], history["loss"], label=f"{prefix}train loss")
    if "val_loss" in history:
        val = history.dropna(subset=["val_loss"])
        ax.plot(val[x], val["val_loss"], "o-", ms=3, label=f"{prefix}validation loss")
    if "val_log_lik" in history:
        val = history.dropna(subset=["val_log_lik"])
        ax.plot(val[x], -val["val_log_lik"], "s--", ms=3, label=f"{prefix}validation -log p(x)")
    ax.set_xlabel("wall time (s)" if x == "wall_time" else x)
    ax.set_ylabel("nats per data point")
    ax.legend(fontsize="small")
    return fig


def unflatten_images(
    x: torch.Tensor | np.ndarray, image_shape, kept_columns=None, fill: float = 0.0
) -> np.ndarray:
    """Rows of (possibly column-dropped) flattened images -> array ``(n, height, width)``.

    ``kept_columns`` (from ``Dataset.meta``) puts the kept pixels back in place; dropped pixels
    get ``fill``.
    """
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    size = int(np.prod(image_shape))
    full = np.full((len(x), size), fill, dtype=np.float64)
    full[:, kept_columns if kept_columns is not None else slice(None)] = x
    return full.reshape(len(x), *image_shape)


def image_grid(
    images: np.ndarray,
    *,
    ncols: int | None = None,
    titles=None,
    cmap: str = "gray_r",
    symmetric: bool = False,
    suptitle: str | None = None,
    panel_size: float = 1.0,
):
    """A grid of images ``(n, height, width)``; ``symmetric`` centres a diverging colour map at 0
    (for loadings, whose sign is arbitrary)."""
    n = len(images)
    ncols = ncols or min(n, 10)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel_size * ncols, panel_size * nrows + (0.4 if suptitle else 0)),
        squeeze=False,
        layout="constrained",
    )
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= n:
            continue
        if symmetric:
            limit = np.abs(images[i]).max() or 1.0
            ax.imshow(images[i], cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax.imshow(images[i], cmap=cmap)
        if titles is not None:
            ax.set_title(titles[i], fontsize="small")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_exact_vs_estimate(
    exact, estimate, *, ax=None, xlabel: str = "exact", ylabel: str = "estimate", title=None
):
    """Scatter of per-item exact values against estimates, with the identity line."""
    fig, ax = _axes(ax, figsize=(4, 4))
    exact = np.asarray(torch.as_tensor(exact).detach().cpu())
    estimate = np.asarray(torch.as_tensor(estimate).detach().cpu())
    ax.scatter(exact, estimate, s=6, alpha=0.5)
    low, high = min(exact.min(), estimate.min()), max(exact.max(), estimate.max())
    ax.plot([low, high], [low, high], "k--", lw=1, label="identity")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def plot_comparison(table: pd.DataFrame):
    """Three panels for :func:`ppgen.compare`: the training bound against steps and against wall
    time (one curve per estimator), and the gradient variance of model and guide parameters."""
    histories = table.attrs.get("histories", {})
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
    for name, history in histories.items():
        history = pd.DataFrame(history)
        # Skip the first rows: the random start's loss would flatten everything after it.
        shown = history.iloc[len(history) // 20 :]
        axes[0].plot(shown["step"], -shown["loss"], label=name)
        axes[1].plot(shown["wall_time"], -shown["loss"], label=name)
    axes[0].set(xlabel="step", ylabel="training bound (nats per data point)")
    axes[1].set(xlabel="wall time (s)", ylabel="training bound (nats per data point)")
    axes[0].legend(fontsize="small")
    positions = np.arange(len(table))
    axes[2].bar(positions - 0.2, table["model_variance"], width=0.4, label="model parameters")
    axes[2].bar(positions + 0.2, table["guide_variance"], width=0.4, label="guide parameters")
    axes[2].set_xticks(positions, table["estimator"], rotation=20, fontsize="small")
    axes[2].set(yscale="log", ylabel="gradient variance (trace of covariance)")
    axes[2].legend(fontsize="small")
    return fig
