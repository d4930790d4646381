# %% [markdown]
# # Tutorial 2: gradient estimators for discrete latents -- REINFORCE, baselines, VIMCO, RWS
#
# A sigmoid belief net has binary latents. There is no reparameterization trick for a coin flip,
# so the gradient of the ELBO with respect to the guide's parameters has to come from the
# **score-function** (REINFORCE) identity of Williams (1992):
#
# $$\nabla_\phi\, \mathbb E_{q_\phi(z)}[f(z)] = \mathbb E_{q_\phi(z)}\big[f(z)\,
#   \nabla_\phi \log q_\phi(z)\big].$$
#
# It is unbiased, and usually far too noisy. Because $\mathbb E_q[\nabla_\phi \log q_\phi] = 0$,
# any **baseline** $b$ that does not depend on the sample can be subtracted,
# $\mathbb E[(f(z) - b)\nabla \log q]$, without changing the expectation -- only the variance.
# This tutorial first computes, exactly, what a baseline does to the variance on a single coin,
# then trains an SBN on digits with ppgen's estimators side by side.
#
# Run as a script or a notebook; `PPGEN_SMOKE=1` runs it with tiny budgets.

# %%
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import ppgen
from ppgen.evaluation import gradient_stats
from ppgen.inference import get_estimator
from ppgen.plots import plot_comparison

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/02_sbn_estimators")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)


def save(fig, name):
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


# %% [markdown]
# ## One coin, exactly
#
# Take $z \sim \mathrm{Bernoulli}(\sigma(\theta))$ and a cost $f(0) = 2$, $f(1) = 5$. The
# single-sample estimator $g = (f(z) - b)\,\partial_\theta \log q(z)$ takes two values, so its
# variance is an exact sum over $z \in \{0, 1\}$ for every baseline $b$. The variance is a
# parabola in $b$ with its minimum at the **optimal baseline**
#
# $$b^* = \frac{\mathbb E[f(z)\,(\partial_\theta \log q)^2]}{\mathbb E[(\partial_\theta \log q)^2]},$$
#
# which is close to, but not equal to, the popular choice $b = \mathbb E[f]$ (the average cost,
# which NVIL's baseline network learns per input).

# %%
theta = 0.8
p1 = torch.sigmoid(torch.tensor(theta)).item()
probs = np.array([1 - p1, p1])
f = np.array([2.0, 5.0])
score = np.array([-p1, 1 - p1])  # d/dtheta log q(z) for z = 0, 1


def variance(b):
    g = (f - b) * score
    return (probs * g**2).sum() - ((probs * g).sum()) ** 2


b_optimal = (probs * f * score**2).sum() / (probs * score**2).sum()
b_mean = (probs * f).sum()
grid = np.linspace(-2, 8, 200)
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.plot(grid, [variance(b) for b in grid])
for b, label in [(0, "no baseline"), (b_mean, "b = E[f]"), (b_optimal, "optimal b*")]:
    ax.plot(b, variance(b), "o", label=f"{label}: {variance(b):.3f}")
ax.set(xlabel="baseline b", ylabel="variance of the estimate", title="REINFORCE on one coin")
ax.legend(fontsize="small")
save(fig, "baseline_variance")
print(
    f"variance without baseline {variance(0):.3f}, with E[f] {variance(b_mean):.4f}, "
    f"optimal {variance(b_optimal):.4f}; exact gradient {(probs * f * score).sum():.4f}"
)

# %% [markdown]
# With two outcomes the optimal baseline removes the variance altogether; with many latent bits
# it cannot, but the lesson carries over: the learning signal should be centered. The estimators
# ppgen offers for discrete latents differ in how they center it:
#
# | estimator | learning signal | baseline |
# |---|---|---|
# | `trace` | $\log p(x,z) - \log q(z\mid x)$ | none |
# | `tracegraph` | only the costs downstream of each site (Rao-Blackwellized) | none, `decaying` average, or `nvil` |
# | `tracegraph+nvil` | as above, centered by a network $b(x)$ and a running mean, divided by a running std | input-dependent (Mnih & Gregor 2014) |
# | `vimco` | K-sample bound $\mathcal L_K$, per-sample $\mathcal L_K - \mathcal L_{-k}$ | leave-one-out (Mnih & Rezende 2016) |
# | `rws` | the guide is fitted to the posterior by self-normalized importance weights | none needed (Bornschein & Bengio 2015) |
#
# All of them are unbiased for their objective; ppgen's tests check that against exact
# enumeration on a tiny SBN.

# %% [markdown]
# ## A sigmoid belief net on digits
#
# 8 binary latents over threshold-binarized 8x8 digits. With $2^8$ latent states the marginal
# $\log p(x)$ is exact by enumeration, so the comparison needs no estimate of its own.
# `ppgen.compare` trains a copy of the same initial model with each estimator, with the same seed,
# data order and number of steps.

# %%
data = ppgen.load_dataset("digits", binarize="threshold")
torch.manual_seed(0)
sbn = ppgen.SigmoidBeliefNet(64, [8])
steps = 20 if SMOKE else 1000
table = ppgen.compare(
    sbn,
    data,
    ["trace", "tracegraph+decaying", "tracegraph+nvil", "vimco", "rws"],
    steps=steps,
    lr=0.01,
    progress=False,
    grad_repeats=5 if SMOKE else 50,
)
print(table.drop(columns=["test_log_lik_method", "steps"]).to_string(index=False))
save(plot_comparison(table), "comparison")

# %% [markdown]
# The curves reproduce the ordering of Mnih & Rezende (2016): the multi-sample estimators
# (`vimco`, `rws`) learn fastest per step and per second, NVIL's baseline comes next, and plain
# REINFORCE (`trace`) trails far behind. The variance panel says why: at the end of training the
# guide's gradient under `trace` is hundreds of times noisier than with NVIL's baseline.
#
# ## Variance at the same parameters
#
# The fair variance comparison holds the parameters fixed. Train with NVIL (which also trains its
# baseline network), then draw repeated gradient estimates on one batch with each estimator.

# %%
torch.manual_seed(0)
model = ppgen.SigmoidBeliefNet(64, [8])
nvil = get_estimator("tracegraph", baseline="nvil", max_plate_nesting=1)
ppgen.fit(model, data, estimator=nvil, steps=20 if SMOKE else 1000, lr=0.01, progress=False)
batch = data.train[:100]
rows = []
for name, estimator in [
    ("trace", "trace"),
    ("tracegraph+nvil", nvil),
    ("vimco (K=5)", get_estimator("vimco", max_plate_nesting=1)),
]:
    stats = gradient_stats(model, batch, estimator, num_repeats=10 if SMOKE else 200)
    stats["estimator"] = name
    rows.append(stats)
stats = pd.concat(rows)
print(stats.to_string(index=False))
guide = stats[stats.group == "guide"].set_index("estimator")["variance"]
print(f"NVIL cuts the guide-gradient variance {guide['trace'] / guide['tracegraph+nvil']:.0f}x")

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for i, group in enumerate(["model", "guide"]):
    part = stats[stats.group == group]
    ax.bar(np.arange(len(part)) + 0.4 * i - 0.2, part["variance"], width=0.4, label=group)
ax.set_xticks(np.arange(3), stats[stats.group == "guide"]["estimator"])
ax.set(yscale="log", ylabel="gradient variance", title="at the same parameters")
ax.legend()
save(fig, "variance_same_parameters")
print(f"figures written to {FIGURES}")
