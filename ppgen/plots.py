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
    validation loss and the validation log-likelihood's negative where they were logged, each term
    of a composed loss, and the discriminator's loss of an adversarial one."""
    fig, ax = _axes(ax)
    prefix = f"{label}: " if label else ""
    ax.plot(history[x], history["loss"], label=f"{prefix}train loss")
    if "val_loss" in history:
        val = history.dropna(subset=["val_loss"])
        ax.plot(val[x], val["val_loss"], "o-", ms=3, label=f"{prefix}validation loss")
    if "val_log_lik" in history:
        val = history.dropna(subset=["val_log_lik"])
        ax.plot(val[x], -val["val_log_lik"], "s--", ms=3, label=f"{prefix}validation -log p(x)")
    # The terms of a composed loss, and the second player of an adversarial one.
    for column in (c for c in history.columns if c.startswith("loss/")):
        ax.plot(history[x], history[column], "--", lw=1, label=f"{prefix}{column[5:]}")
    if "adversary_loss" in history:
        ax.plot(history[x], history["adversary_loss"], label=f"{prefix}discriminator loss")
    ax.set_xlabel("wall time (s)" if x == "wall_time" else x)
    ax.set_ylabel("loss per data point (nats for an ELBO)")
    ax.legend(fontsize="small")
    return fig


def unflatten_images(
    x: torch.Tensor | np.ndarray, image_shape, kept_columns=None, fill: float = 0.0
) -> np.ndarray:
    """Rows of (possibly column-dropped) flattened images -> array ``(n, height, width)``.

    ``kept_columns`` (``Dataset.kept_columns``, a sequence of column indices) puts the kept
    pixels back in place; dropped pixels get ``fill``.
    """
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    size = int(np.prod(image_shape))
    full = np.full((len(x), size), fill, dtype=np.float64)
    # A list, not a tuple: numpy reads a tuple index as one index per dimension.
    full[:, list(kept_columns) if kept_columns is not None else slice(None)] = x
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


# ----- autoencoders: reconstructions, latent manifold, interpolation ---------------------------
def _tile(images: np.ndarray, nrows: int, ncols: int, pad: int = 1, fill: float = 0.0):
    """Images ``(nrows * ncols, h, w)`` tiled into one array with ``pad`` pixels between them."""
    h, w = images.shape[1:]
    canvas = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), fill)
    for k, image in enumerate(images):
        r, c = divmod(k, ncols)
        canvas[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    return canvas


def plot_reconstructions(
    originals, reconstructions, image_shape, kept_columns=None, *, title="reconstructions"
):
    """Originals (top row) above their reconstructions (bottom row)."""
    top = unflatten_images(originals, image_shape, kept_columns)
    bottom = unflatten_images(reconstructions, image_shape, kept_columns)
    fig = image_grid(np.concatenate([top, bottom]), ncols=len(top), suptitle=title)
    fig.axes[0].set_title("data", fontsize="small", loc="left")
    fig.axes[len(top)].set_title("reconstruction", fontsize="small", loc="left")
    return fig


def plot_latent_manifold(
    model, image_shape, kept_columns=None, *, grid_size: int = 15, y=None, ax=None
):
    """Decoded means over a grid of codes of a 2-D latent space (Kingma & Welling 2014, Fig. 4).

    The grid is evenly spaced in probability, ``z = Phi^{-1}(u)`` for ``u`` in ``(0.05, 0.95)``,
    so it covers the prior's mass evenly. ``y`` (one label) picks the class of a conditional VAE.
    """
    if model.latent_dim != 2:
        raise ValueError(
            f"the latent manifold needs latent_dim=2, the model has {model.latent_dim}"
        )
    normal = torch.distributions.Normal(0.0, 1.0)
    ticks = normal.icdf(torch.linspace(0.05, 0.95, grid_size))
    # Rows run from high z_2 (top) to low, columns from low z_1 to high, as on a plot's axes.
    z2, z1 = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
    codes = torch.stack([z1.flatten(), z2.flatten()], -1).to(model.device, model.dtype)
    labels = None if y is None else torch.full((len(codes),), int(y), device=model.device)
    images = unflatten_images(model.decode(codes, labels), image_shape, kept_columns)
    fig, ax = _axes(ax, figsize=(6, 6))
    low, high = float(ticks[0]), float(ticks[-1])
    ax.imshow(_tile(images, grid_size, grid_size), cmap="gray_r", extent=(low, high, low, high))
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title="decoded latent grid")
    return fig


def plot_latent_interpolation(model, starts, ends, image_shape, kept_columns=None, *, steps=10):
    """Decoded means along straight lines between the posterior means of pairs of data points,
    one row per pair (``starts[i]`` to ``ends[i]``)."""
    with torch.no_grad():
        z0, z1 = model.encode(starts), model.encode(ends)  # (pairs, latent)
        t = torch.linspace(0, 1, steps, device=z0.device, dtype=z0.dtype)[:, None, None]
        path = (1 - t) * z0 + t * z1  # (steps, pairs, latent)
        decoded = model.decode(path).transpose(0, 1).reshape(-1, model.data_dim)
    images = unflatten_images(decoded, image_shape, kept_columns)
    fig, ax = plt.subplots(figsize=(steps * 0.7, len(starts) * 0.7 + 0.4), layout="constrained")
    ax.imshow(_tile(images, len(starts), steps), cmap="gray_r")
    ax.set_axis_off()
    ax.set_title("latent interpolation (posterior means, left to right)")
    return fig


def plot_latent_codes(model, x, labels=None, *, ax=None, max_points: int = 2000):
    """Posterior means of data points in the first two latent dimensions, coloured by label."""
    fig, ax = _axes(ax, figsize=(5, 4.5))
    with torch.no_grad():
        codes = model.encode(x[:max_points]).cpu().numpy()
    colours = None if labels is None else np.asarray(torch.as_tensor(labels[:max_points]).cpu())
    points = ax.scatter(codes[:, 0], codes[:, 1], c=colours, s=6, cmap="tab10", alpha=0.8)
    if labels is not None:
        fig.colorbar(points, ax=ax, label="class")
    ax.set(xlabel="$E_q[z_1]$", ylabel="$E_q[z_2]$", title="posterior means")
    return fig


# ----- 2-D densities -----------------------------------------------------------------------
def density_grid(points, *, margin: float = 0.1, size: int = 200):
    """A square grid covering ``points`` (with a relative ``margin``), as ``(xs, ys, grid)`` with
    ``grid`` of shape ``(size * size, 2)``."""
    points = np.asarray(torch.as_tensor(points).detach().cpu())
    low, high = points.min(0), points.max(0)
    pad = margin * (high - low)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], size)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], size)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], -1)


def plot_densities_2d(data, log_densities: dict, *, size: int = 200, max_points: int = 5000):
    """The data (scatter) next to each named 2-D density, drawn as ``exp(log p)`` on one grid.

    ``log_densities`` maps a title to a function ``(n, 2) tensor -> (n,) log-density`` (a model's
    ``log_prob``, a data set's ``log_density``).
    """
    panels = 1 + len(log_densities)
    fig, axes = plt.subplots(1, panels, figsize=(3.2 * panels, 3.4), layout="constrained")
    shown = np.asarray(torch.as_tensor(data[:max_points]).detach().cpu())
    xs, ys, grid = density_grid(shown, size=size)
    extent = (xs[0], xs[-1], ys[0], ys[-1])
    axes[0].scatter(shown[:, 0], shown[:, 1], s=1, alpha=0.4)
    axes[0].set(title="data", xlim=extent[:2], ylim=extent[2:])
    for ax, (title, log_density) in zip(axes[1:], log_densities.items()):
        with torch.no_grad():
            data_tensor = torch.as_tensor(data)
            values = log_density(
                torch.as_tensor(grid, dtype=data_tensor.dtype, device=data_tensor.device)
            )
        # NaN where a fitted flow overflows far from the data: density 0 there.
        density = values.exp().nan_to_num(0.0).reshape(size, size).cpu().numpy()
        ax.imshow(density, origin="lower", extent=extent, cmap="magma", aspect="auto")
        ax.set_title(title)
    for ax in axes:
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_samples_2d(data: torch.Tensor, samples: torch.Tensor, *, ax=None):
    """Model samples (orange) over held-out data (blue)."""
    fig, ax = _axes(ax, figsize=(4.5, 4.5))
    data, samples = data.detach().cpu().numpy(), samples.detach().cpu().numpy()
    ax.scatter(data[:, 0], data[:, 1], s=2, alpha=0.4, label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, label="model samples")
    ax.set_aspect("equal")
    ax.legend(markerscale=5, fontsize="small")
    return fig


def plot_latent_activity(activities: dict, *, threshold: float = 0.01, ax=None):
    """Per-unit activity ``Cov_x(E_q[u | x])`` (sorted, log scale) for several fitted models, with
    the active-unit threshold of Burda et al. (2016)."""
    fig, ax = _axes(ax, figsize=(5.5, 3.5))
    for label, activity in activities.items():
        values = np.sort(np.asarray(torch.as_tensor(activity).detach().cpu()))[::-1]
        ax.plot(np.arange(1, len(values) + 1), np.maximum(values, 1e-6), "o-", ms=4, label=label)
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"active above {threshold:g}")
    ax.set(yscale="log", xlabel="latent unit (sorted by activity)", ylabel="Cov_x(E_q[u | x])")
    ax.legend(fontsize="small")
    return fig


def plot_gradient_trajectory(
    table: pd.DataFrame, *, group: str = "guide", ax=None, column: str = "variance"
):
    """``log10`` of a gradient statistic against training step, one line per estimator, from
    :func:`ppgen.evaluation.gradient_trajectory` (``column="variance_at_equal_cost"`` compares
    estimators at equal model evaluations)."""
    _, ax = _axes(ax)
    rows = table[table["group"] == group]
    for name, part in rows.groupby("estimator", sort=False):
        ax.plot(part["step"], np.log10(part[column].clip(lower=1e-30)), marker="o", label=name)
    trained = table["trained_with"].iloc[0] if "trained_with" in table else "?"
    ax.set(xlabel="step", ylabel=f"log10 {column} ({group})",
           title=f"gradient {column} along a {trained} trajectory")  # fmt: skip
    ax.legend(fontsize="small")
    return ax
