# %% [markdown]
# # Tutorial 1: probabilistic PCA and factor analysis as Pyro model/guide pairs
#
# Linear factor models are the smallest deep generative models: a latent code
# $z \sim \mathcal N(0, I_K)$ is mapped linearly to data, $x \mid z \sim \mathcal N(Wz + b, \Psi)$.
# **Probabilistic PCA** (Tipping & Bishop 1999) has isotropic noise $\Psi = \sigma^2 I$;
# **factor analysis** has a separate noise variance per dimension, $\Psi = \mathrm{diag}(\psi)$.
#
# Both are exactly solvable, which makes them the right place to check an inference engine:
#
# * the marginal is Gaussian, $p(x) = \mathcal N(x;\, b,\, WW^\top + \Psi)$, so the
#   log-likelihood is exact;
# * the posterior is Gaussian with a covariance that does not depend on $x$:
#   $\Lambda = I - W^\top (WW^\top + \Psi)^{-1} W$,
#   $\mu(x) = W^\top (WW^\top + \Psi)^{-1}(x - b)$.
#
# ppgen writes each model as a Pyro program and pairs it with an amortized linear-Gaussian guide
# $q(z \mid x) = \mathcal N(Ax + c, LL^\top)$ whose family **contains** the exact posterior. So
# stochastic variational inference can, in principle, make the ELBO tight: at the optimum the ELBO
# equals $\log p(x)$ and maximizing it is maximum likelihood. Here we check that it does, against
# scikit-learn's fits of the same two models on the 8x8 digits.
#
# Run it as a script (`python tutorials/01_ppca_factor_analysis.py`) or open it as a notebook
# (jupytext percent format). `PPGEN_SMOKE=1` runs it with tiny budgets, as the test suite does.

# %%
import os
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # as a script: write files, need no display
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn import decomposition

import ppgen
from ppgen.evaluation import elbo
from ppgen.plots import image_grid, plot_exact_vs_estimate, plot_history, unflatten_images

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/01_ppca_factor_analysis")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)
DEVICE = ppgen.training.resolve_device("auto")


def save(fig, name):
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


# %% [markdown]
# ## Data
#
# scikit-learn's digits: 1797 images of 8x8 pixels with levels 0..16, split 1000 / 350 / 447.
# Three pixels are 0 in every image. For a Gaussian model a zero-variance dimension is a trap:
# factor analysis can shrink that pixel's noise variance to 0 and the likelihood grows without
# bound. ppgen refuses such data for FA, so we drop the constant pixels (61 dimensions remain).

# %%
data = ppgen.load_dataset("digits", drop_constant=True)
print(data, "dropped pixels:", data.meta["dropped_columns"])
try:
    ppgen.fit(ppgen.FactorAnalysis(64, 10), ppgen.load_dataset("digits").train, steps=1)
except ValueError as error:
    print("FactorAnalysis on the raw 64 pixels:", error)
image = (data.meta["image_shape"], data.meta["kept_columns"])
x_train, x_test = data.train.numpy(), data.test.numpy()
data = data.to(DEVICE)

# %% [markdown]
# ## Fitting by SVI from a random start
#
# `ppgen.fit` runs stochastic variational inference on the model/guide pair. W and the guide start
# random; `init_from_data` only puts the offset $b$ at the data mean (otherwise, on the raw 0-16
# scale, thousands of Adam steps go into merely moving $b$). Full-batch steps, a cosine-annealed
# learning rate, and for PPCA the `meanfield` estimator (analytic KL between the Gaussian guide
# and the Gaussian prior, lower variance than the Monte Carlo KL of `trace`).

# %%
K = 10
SHORT = {"PPCA": "PPCA", "FactorAnalysis": "FA"}
SETUPS = {  # name: (class, estimator, lr, steps) -- as in benchmarks/ppca_fa_digits.py
    "PPCA": (ppgen.PPCA, "meanfield", 0.03, 8000),
    "FactorAnalysis": (ppgen.FactorAnalysis, "trace", 0.01, 6000),
}
models, results, seconds = {}, {}, {}
for name, (cls, estimator, lr, steps) in SETUPS.items():
    torch.manual_seed(0)
    model = cls(61, K).init_from_data(data.train)
    start = time.perf_counter()
    results[name] = ppgen.fit(
        model,
        data,
        estimator=estimator,
        lr=lr,
        steps=30 if SMOKE else steps,
        batch_size=None,
        progress=False,
    )
    seconds[name] = time.perf_counter() - start
    models[name] = model

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
for ax, (name, result) in zip(axes, results.items()):
    plot_history(result.history.iloc[len(result.history) // 20 :], ax=ax)
    ax.set_title(f"{name}: training and validation curves")
save(fig, "loss_curves")

# %% [markdown]
# ## The same models in scikit-learn
#
# `PCA(10).score` is the exact PPCA log-likelihood at the closed-form maximum-likelihood solution
# (the top principal directions); `FactorAnalysis(10).score` is FA's log-likelihood after
# scikit-learn's iterated-SVD fit. ppgen's numbers are exact log-likelihoods of the SVI fits.

# %%
references = {
    "PPCA": decomposition.PCA(K).fit(x_train),
    "FactorAnalysis": decomposition.FactorAnalysis(K, svd_method="lapack").fit(x_train),
}
rows = []
for name, model in models.items():
    ref = references[name]
    with torch.no_grad():
        rows.append(
            {
                "model": name,
                "sklearn train": ref.score(x_train),
                "ppgen train": model.log_prob(data.train).mean().item(),
                "sklearn test": ref.score(x_test),
                "ppgen test": model.log_prob(data.test).mean().item(),
                "ppgen test ELBO": elbo(model, data.test, num_samples=200).mean().item(),
                "ppgen seconds": seconds[name],
            }
        )
table = pd.DataFrame(rows)
print(table.to_string(index=False, float_format="%.3f"))

# %% [markdown]
# ## Closed form versus SVI
#
# Per test image, the exact log-likelihood under ppgen's SVI fit against scikit-learn's: the
# points lie on the identity line. And the guide against the exact posterior: the guide's means
# match $\mu(x)$, and the ELBO equals $\log p(x)$ up to Monte Carlo error -- the gap has closed.
#
# Factor analysis shows a caveat of maximum likelihood on small image sets: a few pixels are
# nearly constant in the 1000 training images, so their noise variance $\psi_j$ becomes tiny, and
# the rare test image that inks such a pixel gets a log-likelihood in the thousands of negative
# nats (the outliers in the middle panel). Both fits agree on it; it is the model, not the fit, and
# it is why FA's held-out curve sits far above its training curve.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4), layout="constrained")
for ax, (name, model) in zip(axes[:2], models.items()):
    with torch.no_grad():
        ours = model.log_prob(data.test)
    plot_exact_vs_estimate(
        references[name].score_samples(x_test),
        ours,
        ax=ax,
        xlabel="scikit-learn log p(x)",
        ylabel="ppgen SVI log p(x)",
        title=name,
    )
with torch.no_grad():
    ppca = models["PPCA"]
    exact_mean = ppca.posterior(data.test).loc.flatten()
    guide_mean = ppca.variational_posterior(data.test).loc.flatten()
plot_exact_vs_estimate(
    exact_mean,
    guide_mean,
    ax=axes[2],
    xlabel="exact posterior mean",
    ylabel="guide mean",
    title="PPCA: guide vs exact posterior",
)
save(fig, "closed_form_vs_svi")

# %% [markdown]
# ## Loadings and samples
#
# The columns of $W$ shown as images (a diverging colour map: a loading's sign is arbitrary).
# PPCA's loadings span the principal subspace (up to rotation); FA's differ because FA whitens each
# pixel by its own noise. Samples from both models are blurry: a linear-Gaussian model of digits
# captures the mean and the main strokes, not the shapes -- the motivation for deep models.

# %%
with torch.no_grad():
    loadings = np.concatenate([m.W.T.cpu().numpy() for m in models.values()])
    samples = np.concatenate([m.sample(10).cpu().numpy() for m in models.values()])
titles = [f"{SHORT[n]} {k}" for n in models for k in range(K)]
save(
    image_grid(
        unflatten_images(loadings, *image),
        titles=titles,
        symmetric=True,
        suptitle="loadings: PPCA (top), FA (bottom)",
    ),
    "loadings",
)
save(
    image_grid(unflatten_images(samples, *image), suptitle="samples: PPCA (top), FA (bottom)"),
    "samples",
)

# %% [markdown]
# ## Has it converged? The warning, `steps="converged"` and early stopping
#
# A budget that is too small leaves a model far from its optimum, and nothing in the numbers says
# so unless someone checks. `fit` checks: when the second half of a run still improved its
# objective by more than 2 % of its scale (and by more than noise), it warns with a
# `ConvergenceWarning` and sets `result.converged = False`
# (`ppgen/training/convergence.py`). Below, PPCA on the digits from a random start, with the
# minibatches of `fit`'s defaults:
#
# * lr 1e-3 for 1000 steps -- `fit`'s defaults before the models carried their own -- stops far
#   below the optimum, and says so;
# * PPCA's own defaults (`PPCA.default_lr = 0.03`, `default_steps = 8000`, what `fit(model, data)`
#   uses) converge to within about a tenth of a nat of scikit-learn;
# * `steps="converged"` trains until the test passes, judged from a quarter of its cap on (here a
#   cap of 12000 steps);
# * `early_stopping=3` stops once the validation score has not improved for 3 validations, and
#   puts back the best state it saw.

# %%
import warnings  # noqa: E402

from ppgen.training import ConvergenceWarning  # noqa: E402

BUDGETS = {
    "lr 1e-3, 1000 steps": dict(lr=1e-3, steps=1000),
    "PPCA's defaults": {},
    'steps="converged"': dict(steps="converged", max_steps=12000),
    "early stopping": dict(early_stopping=3, val_every=250),
}
optimum = references["PPCA"].score(x_test)
budget_rows, budget_runs = [], {}
for label, options in BUDGETS.items():
    if SMOKE:  # tiny budgets
        converging = options.get("steps") == "converged"
        options = {**options, **({"max_steps": 60} if converging else {"steps": 40})}
    torch.manual_seed(0)
    model = ppgen.PPCA(61, K)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = ppgen.fit(model, data, progress=False, **options)
    budget_runs[label] = result
    with torch.no_grad():
        test_log_lik = float(model.log_prob(data.test).mean())
    budget_rows.append(
        {
            "budget": label,
            "steps run": int(result.history["step"].iloc[-1]),
            "converged": result.converged,
            "stopped": result.stopped,
            "warned": any(issubclass(w.category, ConvergenceWarning) for w in caught),
            "test log p(x)": test_log_lik,
            "gap to sklearn": test_log_lik - optimum,
        }
    )
print(pd.DataFrame(budget_rows).to_string(index=False, float_format="%.2f"))

# %%
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
for label, result in budget_runs.items():
    validated = result.history.dropna(subset=["val_log_lik"])
    (line,) = ax.plot(validated["step"], validated["val_log_lik"], marker=".", label=label)
    if result.best_step is not None:
        best = validated.set_index("step").loc[result.best_step, "val_log_lik"]
        ax.plot([result.best_step], [best], "*", ms=14, color=line.get_color())
ax.axhline(references["PPCA"].score(data.val.cpu().numpy()), color="k", ls="--", lw=1,
           label="scikit-learn PCA(10)")  # fmt: skip
ax.set(xlabel="step", ylabel="validation log p(x) per image", title="PPCA: when to stop")
ax.set_ylim(bottom=max(ax.get_ylim()[0], -400))
ax.legend(fontsize=8)
save(fig, "convergence")

# %% [markdown]
# A checkpoint (`fit(..., checkpoint="run.ckpt")`, or `ppgen fit ... --checkpoint`) makes any of
# these runs resumable after a kill, exactly: the resumed run ends bit for bit where an
# uninterrupted one ends, and an early-stopped run stops at the same step with the same best state
# (`tests/training/test_convergence.py`, `tests/training/test_checkpoint.py`).

# %%
print(f"figures written to {FIGURES}")
