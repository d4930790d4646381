# %% [markdown]
# # Tutorial 12: back-propagating through discrete stochastic operations
#
# Tutorial 2 met the problem: a coin flip has no reparameterization, so the ELBO's gradient for
# the guide comes from the score-function identity, unbiased and noisy, and baselines (NVIL,
# VIMCO) cut the noise without changing the mean. Since 2017 the field has gone further along two
# roads, and ppgen runs both on your own Pyro program:
#
# * **Relax the coin.** Replace $b \sim \mathrm{Bernoulli}(\sigma(\alpha))$ by the Concrete
#   (Gumbel-softmax) variable $\sigma((\alpha + L)/\lambda)$, $L$ logistic, which is differentiable
#   in $\alpha$ (Maddison et al. 2017; Jang et al. 2017): `concrete`, and `straight_through`
#   (hard forward, relaxed backward). The objective changes, so the gradient is **biased**.
# * **Keep the coin, control the noise.** Use the relaxation only as a control variate, with a
#   correction that keeps the estimate unbiased: REBAR (Tucker et al. 2017) and RELAX (Grathwohl
#   et al. 2018), whose temperature, scale and network are tuned online to minimize the
#   variance. Or couple two draws: ARM (Yin & Zhou 2019) evaluates the learning signal at an
#   antithetic twin $\tilde b = 1[u > 1 - p]$ of $b = 1[u < p]$, and DisARM (Dong et al. 2020)
#   integrates $u$ out. Or share K samples: leave-one-out REINFORCE (`rloo`, Kool et al. 2019).
#
# Each is a registered estimator: `fit(..., estimator="disarm")`, `compare`, `gradient_stats`.
# This tutorial measures bias and variance against the exact gradient, follows every estimator
# along one training run, and trains a user's own categorical mixture.
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
import pyro
import pyro.distributions as dist
import torch

import ppgen
from ppgen.evaluation import gradient_stats, gradient_trajectory
from ppgen.plots import plot_comparison, plot_gradient_trajectory
from ppgen.program.errors import ProgramError

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/12_discrete_estimators")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)
REPEATS = 20 if SMOKE else 2000


def save(fig, name):
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


# %% [markdown]
# ## Bias and variance against the exact gradient
#
# The toy problem of the REBAR and RELAX papers, written as a plain Pyro pair: three coins
# $b_i \sim \mathrm{Bernoulli}(\sigma(\theta_i))$ in a plate, a uniform prior, and a reward
# $\log w = -(b - t)^2$ with targets $t = 0.45, 0.49, 0.51$ that barely tell 0 from 1, so
# the signal is tiny next to the noise. The guide's sites are scalar Bernoullis, so Pyro can
# enumerate them: `gradient_stats(..., reference="enumerate")` compares every estimator's mean
# with the **exact** ELBO gradient (bias, with its standard error), and reports variance, the
# model runs each estimate costs, and the variance at equal cost (variance times runs: ARM and
# DisARM spend two, REBAR three, RLOO with K = 4 four).

# %%
targets = torch.tensor([0.45, 0.49, 0.51])


def coins_model(x):
    with pyro.plate("coins", 3):
        b = pyro.sample("b", dist.Bernoulli(0.5))
        pyro.factor("reward", -((b - targets) ** 2))


def coins_guide(x):
    theta = pyro.param("theta", torch.tensor([0.4, -0.8, 1.5]))
    with pyro.plate("coins", 3):
        pyro.sample("b", dist.Bernoulli(logits=theta))


coins = (coins_model, coins_guide)
x_dummy = torch.zeros(3)  # the program ignores its data; one "row" per coin
ESTIMATORS = {"trace": 1, "rloo": 4, "arm": 1, "disarm": 1, "rebar": 1, "relax": 1,
              "concrete": 1, "straight_through": 1}  # fmt: skip
rows = []
for name, particles in ESTIMATORS.items():
    pyro.clear_param_store()
    torch.manual_seed(0)  # each row reproducible on its own
    stats = gradient_stats(coins, x_dummy, name, num_repeats=REPEATS, num_particles=particles,
                           reference="enumerate", data_plate="coins")  # fmt: skip
    rows.append(stats[stats["group"] == "guide"])
toy = pd.concat(rows, ignore_index=True)
print(toy[["estimator", "bias", "bias_se", "variance", "evaluations",
           "variance_at_equal_cost"]].to_string(index=False))  # fmt: skip

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
axes[0].bar(toy["estimator"], toy["bias"], yerr=2 * toy["bias_se"], color="tab:red")
axes[0].set(title="|mean - exact gradient| (2 s.e. bars)", ylabel="bias")
axes[1].bar(toy["estimator"], toy["variance_at_equal_cost"], color="tab:blue")
axes[1].set(title="variance x model runs per estimate", yscale="log")
for ax in axes:
    ax.tick_params(axis="x", rotation=45)
save(fig, "toy_bias_and_variance")

# %% [markdown]
# The unbiased estimators' bias bars reach zero within their error (in the full run every one of
# them is within two standard errors); `concrete` and `straight_through` stand more than ten
# standard errors above it (0.10 against 0.008): they follow the relaxed objective. The variance
# panel holds a surprise worth knowing: on this toy plain REINFORCE (`trace`) is the cheapest per
# model run. Three independent coins give every estimator little to share, and Pyro's
# `Trace_ELBO` keeps the direct gradient of `-log q`, which here acts as a control variate of its
# own. Control variates pay off where the signal is a sum over many latents, as in the next
# sections.
#
# ## The temperature trades bias for variance
#
# Lowering the relaxation's temperature brings the relaxed objective closer to the discrete
# one, and makes the gradient spikier. On the coins the effect is small, and the bias is not
# monotone in it: 0.098 at temperature 2, 0.104 at 1, 0.093 at 0.1, while the variance rises
# from 0.107 to 0.124. The relaxed KL term is not the discrete KL even as the temperature vanishes,
# so much of the bias stays. tests/inference/test_relaxation.py measures the same trade on a
# sigmoid belief net with 8 latents, where it is monotone.

# %%
temperatures = [2.0, 1.0, 0.5, 0.2, 0.1] if not SMOKE else [1.0, 0.1]
sweep = []
for temperature in temperatures:
    pyro.clear_param_store()
    torch.manual_seed(0)
    relaxed = ppgen.inference.get_estimator("concrete", temperature=temperature)
    stats = gradient_stats(coins, x_dummy, relaxed, num_repeats=REPEATS, reference="enumerate",
                           data_plate="coins")  # fmt: skip
    sweep.append(stats[stats["group"] == "guide"].assign(temperature=temperature))
sweep = pd.concat(sweep)
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.plot(sweep["temperature"], sweep["bias"], "o-", label="bias")
ax.plot(sweep["temperature"], sweep["variance"], "s-", label="variance")
ax.set(xscale="log", xlabel="temperature", title="concrete on the coins")
ax.legend()
save(fig, "temperature")
print(sweep[["temperature", "bias", "variance"]].to_string(index=False))

# %% [markdown]
# ## Every estimator along one training run
#
# Variance at one point in parameter space says little about training, where the posterior
# sharpens and the signal shrinks. `gradient_trajectory` trains with one estimator and, every
# N steps, measures every estimator's gradient at the *same* parameters (as REBAR's authors
# compared them); the measurement does not perturb the run. Here a sigmoid belief net with 20
# binary latents on thresholded digits, trained by DisARM.

# %%
data = ppgen.load_dataset("digits", binarize="threshold")
torch.manual_seed(0)
sbn = ppgen.SigmoidBeliefNet(64, [20])
steps = 20 if SMOKE else 1500
trajectory = gradient_trajectory(
    sbn, data, "disarm", ["trace", "rloo", "arm", "disarm", "rebar", "relax"],
    steps=steps, every=max(steps // 6, 1), num_repeats=10 if SMOKE else 100, batch_rows=100,
    lr=0.01, seed=0, progress=False,
)  # fmt: skip
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
plot_gradient_trajectory(trajectory, ax=axes[0])
plot_gradient_trajectory(trajectory, ax=axes[1], column="variance_at_equal_cost")
save(fig, "trajectory")

# %% [markdown]
# Along the whole run, REINFORCE without a baseline (`trace`) sits 2 to 3 orders of magnitude
# above the rest. At equal cost (right) DisARM and RLOO (K = 4) tie for the lowest variance,
# and ARM is above them: DisARM is ARM with the noise integrated out. REBAR and RELAX are
# measured with fresh, untuned control variates (the trained estimator is DisARM), which is
# their worst case; trained with them, `fit` tunes the temperature and scale, and its history's
# `estimator/variance_reduction` column shows the gain over REINFORCE.
#
# ## Your own program: a categorical mixture
#
# A mixture of Bernoulli pixel models over a plate of your own name, with a 10-way integer
# `Categorical` cluster per image. ARM and DisARM flip Bernoulli draws; REBAR and RELAX relax
# Bernoulli and one-hot draws, and an integer cluster has no relaxed value (the program indexes
# `pixels` with it). So ppgen refuses all four for this program **before training**, naming the
# site; the estimators for any discrete guide (`rloo`, `vimco`, `tvo`, `renyi`, `rws`) train it.

# %%
K = 10


def mixture_model(x):
    weights = pyro.param("mixture_logits", torch.zeros(K))
    pixels = pyro.param("pixel_logits", 0.1 * torch.randn(K, 64))
    with pyro.plate("images", x.shape[0]):
        c = pyro.sample("cluster", dist.Categorical(logits=weights))
        pyro.sample("x", dist.Bernoulli(logits=pixels[c]).to_event(1), obs=x)


torch.manual_seed(0)
encoder = torch.nn.Linear(64, K)  # q(cluster | image), one network across calls


def mixture_guide(x):
    pyro.module("encoder", encoder)
    with pyro.plate("images", x.shape[0]):
        pyro.sample("cluster", dist.Categorical(logits=encoder(x)))


mixture = (mixture_model, mixture_guide)
try:
    ppgen.fit(mixture, data, estimator="disarm", steps=1, progress=False)
except ProgramError as refusal:
    print("refused:", str(refusal)[:200], "...")

pyro.clear_param_store()
torch.manual_seed(0)
table = ppgen.compare(
    mixture, data, ["trace", "rloo", "vimco", "tvo", "renyi"], steps=20 if SMOKE else 1500,
    lr=0.02, num_particles=4, progress=False, grad_repeats=5 if SMOKE else 50,
    eval_samples=50 if SMOKE else 1000,
)  # fmt: skip
print(table[["estimator", "train_bound", "test_log_lik", "guide_variance",
             "seconds_per_step"]].to_string(index=False))  # fmt: skip
save(plot_comparison(table), "mixture_comparison")

# %% [markdown]
# With K = 4 samples, the leave-one-out baselines (`rloo` for the ELBO, `vimco` for the 4-sample
# bound) cut the guide's gradient variance 160 and 15 times below REINFORCE's (0.0005 and 0.0055
# against 0.083 in the full run), and `rloo` and `tvo` reach held-out log-likelihoods of -22.5
# and -22.4 nats per image against trace's -25.0 (vimco -22.8). These are one seed's numbers:
# runs of the unseeded version of this cell moved vimco's by 1 nat. `renyi` (alpha = 0.5, no
# baseline) optimizes another bound and is reported on its own.
# `benchmarks/discrete_estimators.py` runs the papers' comparison on digits, with the numbers
# recorded next to the papers' claims.

# %% [markdown]
# ## The same mixture, one-hot: REBAR and RELAX take it
#
# Written with a `OneHotCategorical` cluster (the pixel logits are `cluster @ pixels`), the
# mixture is one REBAR and RELAX relax: the cluster's Gumbel-max variables, re-drawn given the
# drawn cluster, feed a softmax at the tuned temperature, and the model scores the relaxed value
# with the categorical's log-probability extended linearly, `sum_k x_k log p_k`. One estimate
# costs three runs of model and guide per sample. The fit's history says how far the control
# variate cuts the variance of the cluster logits' gradient below REINFORCE's.

# %%
def one_hot_mixture_model(x):
    weights = pyro.param("mixture_logits", torch.zeros(K))
    pixels = pyro.param("pixel_logits", 0.1 * torch.randn(K, 64))
    with pyro.plate("images", x.shape[0]):
        c = pyro.sample("cluster", dist.OneHotCategorical(logits=weights))  # (images, K)
        pyro.sample("x", dist.Bernoulli(logits=c @ pixels).to_event(1), obs=x)


def one_hot_mixture_guide(x):
    pyro.module("encoder", encoder)
    with pyro.plate("images", x.shape[0]):
        pyro.sample("cluster", dist.OneHotCategorical(logits=encoder(x)))


one_hot_mixture = (one_hot_mixture_model, one_hot_mixture_guide)
pyro.clear_param_store()
torch.manual_seed(0)
encoder = torch.nn.Linear(64, K)
one_hot_table = ppgen.compare(
    one_hot_mixture, data, ["rloo", "rebar", "relax"], steps=20 if SMOKE else 1500, lr=0.02,
    num_particles=4, progress=False, grad_repeats=5 if SMOKE else 50,
    eval_samples=50 if SMOKE else 1000,
)  # fmt: skip
print(one_hot_table[["estimator", "train_bound", "test_log_lik", "guide_variance",
                     "seconds_per_step"]].to_string(index=False))  # fmt: skip
pyro.clear_param_store()
torch.manual_seed(0)
encoder = torch.nn.Linear(64, K)
rebar_run = ppgen.fit(one_hot_mixture, data, estimator="rebar", steps=20 if SMOKE else 300,
                      log_every=10, lr=0.02, progress=False)  # fmt: skip
reduction = rebar_run.history["estimator/variance_reduction"]
print(f"REBAR's variance reduction over REINFORCE: {reduction.min():.0f} to {reduction.max():.0f}")
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ax.plot(rebar_run.history["step"], reduction, marker="o")
ax.set(yscale="log", xlabel="step", ylabel="REINFORCE / REBAR second moment",
       title="REBAR's control variate on the one-hot mixture")  # fmt: skip
save(fig, "one_hot_variance_reduction")

# %% [markdown]
# In the full run REBAR's control variate cuts the second moment of the logits' gradient 26 to
# 577 times below REINFORCE's along 300 steps (the figure). Against `rloo` at the same K = 4 (which spends a
# third of the model runs) it does not win on this program: the guide's gradient variance is
# 0.0023 for rebar and 0.0024 for relax against rloo's 0.0006, and the held-out log-likelihoods
# are -22.9 (rebar), -22.3 (relax) and -22.3 (rloo), one seed. On one ten-way latent per image
# the leave-one-out baseline is already strong; the papers compare these estimators on SBNs with
# hundreds of binary latents, which `benchmarks/discrete_estimators.py` runs on digits.
