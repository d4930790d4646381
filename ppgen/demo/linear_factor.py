"""``ppgen demo``: the main job on bundled data, written up as a small report in a run folder.

Each section fits models, writes its tables (CSV + markdown) and figures (PNG) into the run folder
and returns the markdown that goes into ``report.md``. Later capabilities add sections.
"""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .data import load_dataset
from .evaluation import compare, elbo
from .inference import fit, resolve_device
from .models import PPCA, FactorAnalysis, SigmoidBeliefNet
from .plots import (
    image_grid,
    plot_comparison,
    plot_exact_vs_estimate,
    plot_history,
    unflatten_images,
)
from .reporting import new_run_dir, save_figure, write_table

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
    image = (raw.meta["image_shape"], raw.meta["kept_columns"])
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


def estimator_section(run_dir: Path, quick: bool, progress: bool) -> str:
    """A sigmoid belief net on binarized digits trained with four gradient estimators."""
    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    model = SigmoidBeliefNet(data.num_features, [8])
    steps = 20 if quick else 1000
    table = compare(
        model,
        data,
        ESTIMATORS,
        steps=steps,
        lr=0.01,
        progress=progress,
        eval_samples=100 if quick else 1000,
        grad_repeats=5 if quick else 50,
    )
    write_table(table, run_dir / "estimator_comparison")
    save_figure(plot_comparison(table), run_dir / "estimator_comparison.png")
    shown = table.drop(columns=["test_log_lik_method", "steps"])
    return "\n".join(
        [
            "## Gradient estimators on a sigmoid belief net",
            "",
            f"A sigmoid belief net with 8 binary latents on digits (threshold-binarized), trained "
            f"{steps} steps from the same start with each estimator (batch 128, lr 0.01). "
            "`test_log_lik` is exact (enumeration over the 256 latent states). Variances are the "
            "trace of the gradient covariance at each estimator's final parameters.",
            "",
            shown.to_markdown(index=False, floatfmt=".3g"),
            "",
            "![estimator comparison](estimator_comparison.png)",
            "",
        ]
    )


ESTIMATORS = ["trace", "tracegraph+nvil", "vimco", "rws"]
SECTIONS = [linear_factor_section, estimator_section]


def run_demo(out: str | Path | None = None, quick: bool = False, progress: bool = True) -> Path:
    """Run every demo section, write ``report.md`` in the run folder, and return the folder."""
    run_dir = new_run_dir(out, "demo")
    start = time.perf_counter()
    parts = [section(run_dir, quick, progress) for section in SECTIONS]
    header = [
        "# ppgen demo report",
        "",
        f"Written by `ppgen demo{' --quick' if quick else ''}` in "
        f"{time.perf_counter() - start:.0f} s (torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads).",
        "",
    ]
    (run_dir / "report.md").write_text("\n".join(header + parts))
    return run_dir
