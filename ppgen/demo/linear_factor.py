"""Demo section: PPCA and factor analysis on digits by SVI, next to scikit-learn's fits."""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..data import load_dataset
from ..evaluation import elbo
from ..models import PPCA, FactorAnalysis
from ..plots import image_grid, plot_exact_vs_estimate, plot_history, unflatten_images
from ..runs.tables import save_figure, write_table
from ..training import fit, resolve_device

LATENT_DIM = 10
SHORT = {"PPCA": "PPCA", "FactorAnalysis": "FA"}
# (model class, scikit-learn estimator factory, estimator, lr, steps): the settings of
# benchmarks/ppca_fa_digits.py, with fewer steps so the demo stays short.
LINEAR_FACTOR_SETUPS = {
    "PPCA": (PPCA, "PCA", "meanfield", 0.02, 4000),
    "FactorAnalysis": (FactorAnalysis, "FactorAnalysis", "trace", 0.01, 4000),
}

SKLEARN_METHOD = {"PCA": "closed-form MLE", "FactorAnalysis": "iterated SVD, lapack"}


def _sklearn_model(kind: str):
    from sklearn import decomposition

    if kind == "PCA":
        return decomposition.PCA(LATENT_DIM)
    return decomposition.FactorAnalysis(LATENT_DIM, svd_method="lapack")


def linear_factor_section(run_dir: Path, quick: bool, progress: bool) -> str:
    """PPCA and factor analysis on digits by SVI, next to scikit-learn's closed-form/EM fits."""
    raw = load_dataset("digits", drop_constant=True)
    data = raw.to(resolve_device("auto"))  # models train and score where the data lives
    image = (raw.image_shape, raw.kept_columns)
    x_train, x_test = raw.train.numpy(), raw.test.numpy()
    rows, histories, fitted, references = [], {}, {}, {}
    for name, (model_class, sk_kind, estimator, lr, steps) in LINEAR_FACTOR_SETUPS.items():
        start = time.perf_counter()
        reference = _sklearn_model(sk_kind).fit(x_train)
        sk_seconds = time.perf_counter() - start
        rows.append(
            {
                "model": name,
                "method": f"scikit-learn {sk_kind} ({SKLEARN_METHOD[sk_kind]})",
                "train log p(x)": reference.score(x_train),
                "test log p(x)": reference.score(x_test),
                "test ELBO": np.nan,
                "fit seconds": sk_seconds,
            }
        )
        torch.manual_seed(0)
        model = model_class(data.num_features, LATENT_DIM).init_from_data(data.train)
        result = fit(
            model,
            data,
            estimator=estimator,
            lr=lr,
            steps=20 if quick else steps,
            batch_size=None,
            device=data.train.device,
            progress=progress,
        )
        with torch.no_grad():
            rows.append(
                {
                    "model": name,
                    "method": f"ppgen SVI ({estimator}, {int(result.history.step.iloc[-1])} steps)",
                    "train log p(x)": float(model.log_prob(data.train).mean()),
                    "test log p(x)": float(model.log_prob(data.test).mean()),
                    "test ELBO": float(elbo(model, data.test, num_samples=100).mean()),
                    "fit seconds": float(result.history["wall_time"].iloc[-1]),
                }
            )
        histories[name], fitted[name], references[name] = result.history, model, reference
    table = pd.DataFrame(rows)
    write_table(table, run_dir / "linear_factor_models")
    _figures(run_dir, histories, fitted, references, data, x_test, image)

    return "\n".join(
        [
            "## Linear factor models on digits",
            "",
            f"PPCA and factor analysis with {LATENT_DIM} factors on scikit-learn's digits with the "
            "three constant pixels dropped (61 dimensions, raw 0-16 scale), fitted by SVI from a "
            "random start, next to scikit-learn's fits of the same models. Log-likelihoods are "
            "exact (closed-form marginals), in nats per image. The demo's budget is half the "
            "benchmark's: `benchmarks/ppca_fa_digits.py` closes the gap to ~0.01 nats.",
            "",
            table.to_markdown(index=False, floatfmt=".3f"),
            "",
            "![loss curves](loss_curves.png)",
            "![closed form vs SVI](closed_form_vs_svi.png)",
            "![loadings](loadings.png)",
            "![samples](samples.png)",
            "",
        ]
    )


def _figures(run_dir, histories, fitted, references, data, x_test, image) -> None:
    """Loss curves, loadings, samples and exact log p(x) against scikit-learn's."""

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
    for ax, (name, history) in zip(axes, histories.items()):
        plot_history(history.iloc[5:], ax=ax)  # skip the first rows: the random start's loss
        ax.set_title(f"{name}: negative ELBO per image")
    save_figure(fig, run_dir / "loss_curves.png")

    with torch.no_grad():
        loadings = np.concatenate([fitted[n].W.T.cpu().numpy() for n in fitted])
        samples = np.concatenate([fitted[n].sample(10).cpu().numpy() for n in fitted])
    titles = [f"{SHORT[n]} {k}" for n in fitted for k in range(LATENT_DIM)]
    save_figure(
        image_grid(
            unflatten_images(loadings, *image),
            titles=titles,
            symmetric=True,
            suptitle="loadings (columns of W)",
        ),
        run_dir / "loadings.png",
    )
    save_figure(
        image_grid(unflatten_images(samples, *image), suptitle="samples: PPCA (top), FA (bottom)"),
        run_dir / "samples.png",
    )
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
    for ax, name in zip(axes, fitted):
        with torch.no_grad():
            ours = fitted[name].log_prob(data.test)
        plot_exact_vs_estimate(
            references[name].score_samples(x_test),
            ours,
            ax=ax,
            xlabel="scikit-learn log p(x)",
            ylabel="ppgen SVI log p(x)",
            title=name,
        )
    save_figure(fig, run_dir / "closed_form_vs_svi.png")
