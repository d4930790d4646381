# %% [markdown]
# # Tutorial 5: likelihood-free training -- MMD, GANs, and composed objectives
#
# Some generative models have no likelihood to maximize. A **generator** $x = g(z)$,
# $z \sim N(0, I)$, pushes noise through a network; its density is intractable (singular
# whenever $\dim z < \dim x$). It can still be trained by a **two-sample criterion**: a distance
# between its samples and the data that needs only samples from both.
#
# - **Maximum mean discrepancy** (Gretton et al. 2012). With a characteristic kernel $k$,
#   $\mathrm{MMD}^2(P, Q) = E\,k(x, x') + E\,k(y, y') - 2\,E\,k(x, y)$ is zero exactly when
#   $P = Q$. Its unbiased estimate from two samples is differentiable in the generated points, so
#   minimizing it trains the generator directly: a **generative moment matching network** (GMMN,
#   Li et al. 2015). One bandwidth never suits every scale, so the kernel is a mixture of RBFs.
# - **Adversarial training** (Goodfellow et al. 2014). A discriminator $D$ learns to tell data
#   from samples; the generator learns to fool it. At the discriminator's optimum the minimax
#   game minimizes the Jensen-Shannon divergence. The *non-saturating* variant has the generator
#   maximize $\log D(g(z))$ instead, for strong gradients early on; WGAN-GP replaces the
#   classifier with a critic under a gradient penalty (Gulrajani et al. 2017).
#
# In ppgen both are **custom losses** on Pyro sample sites: `MMDLoss` and `AdversarialLoss` read
# the generated points at a site of the model (a `Generator`'s `"x"`) or of the guide (a VAE's
# `"z"`), and they **compose** with ELBOs: `elbo("trace") + 100 * MMDLoss(site="z",
# target="prior")` is the MMD-VAE / InfoVAE objective (Zhao et al. 2019). `ppgen.fit` trains
# them all, with a second optimizer and $k$ discriminator steps per generator step when the loss
# has an adversary.
#
# Because samples are all we have, evaluation is by samples too: **mode coverage** on mixtures
# with known modes, an **MMD two-sample test** with a permutation p-value, a
# **nearest-neighbour memorization check**, and a kernel-density log-likelihood as a relative
# score.
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
import pandas as pd
import pyro
import torch

import ppgen
from ppgen.evaluation import (
    kde_log_likelihood,
    memorization_check,
    mmd_test,
    mode_coverage,
)
from ppgen.inference.losses import AdversarialLoss, MMDLoss, elbo, mmd2
from ppgen.models import VAE, Generator
from ppgen.plots import plot_history, plot_samples_2d

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/05_adversarial_mmd")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)
STEPS = 20 if SMOKE else 4000
TRIALS = 20 if SMOKE else 300


def save(fig, name):
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


# %% [markdown]
# ## 1. MMD as a two-sample test
#
# Before training anything with MMD, check that it measures what it should. Under the null
# (both samples from one distribution) the unbiased estimate averages zero, and a permutation
# test built on it rejects at the nominal rate: relabelling the pooled points at random draws
# from the statistic's exact null distribution.

# %%
generator = torch.Generator().manual_seed(0)
null_p, shifted_p = [], []
for trial in range(TRIALS):
    x = torch.randn(50, 2, generator=generator)
    y = torch.randn(50, 2, generator=generator)
    null_p.append(mmd_test(x, y, num_permutations=199, seed=trial).p_value)
    shifted_p.append(mmd_test(x, y + 0.6, num_permutations=199, seed=trial).p_value)
null_p, shifted_p = torch.tensor(null_p), torch.tensor(shifted_p)
print(f"false-positive rate at alpha=0.05: {float((null_p <= 0.05).double().mean()):.3f}")
print(f"power against a shift of 0.6 std:  {float((shifted_p <= 0.05).double().mean()):.3f}")

fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ax.hist(null_p.numpy(), bins=20, range=(0, 1), alpha=0.6, label="same distribution")
ax.hist(shifted_p.numpy(), bins=20, range=(0, 1), alpha=0.6, label="shifted by 0.6 std")
ax.set(xlabel="permutation p-value", ylabel="trials", title="MMD two-sample test, n = 50")
ax.legend()
save(fig, "mmd_test_p_values")

# %% [markdown]
# Null p-values are uniform; shifted ones pile up near zero.
#
# ## 2. A generator trained by MMD (GMMN) on a ring of 8 Gaussians
#
# The ring has 8 narrow modes (std 0.02, radius 2). `ppgen.fit(generator, data, loss="mmd")`
# trains the same way as any model. A **callback** scores mode coverage on 2500 samples at every
# log step, so we can watch modes appear during training.

# %%
ring = ppgen.load_dataset("ring8")
centers, std = ring.meta["centers"], ring.meta["std"]


def coverage(step, model):
    result = mode_coverage(model.sample(2500), centers, std)
    return {"modes": result["modes_captured"], "hq": result["high_quality_fraction"]}


def train(loss):
    torch.manual_seed(0)
    model = Generator(2, latent_dim=2, hidden_dims=(400, 400, 400))
    result = ppgen.fit(
        model, ring, loss=loss, steps=STEPS, batch_size=256, progress=False,
        log_every=max(1, STEPS // 40), callback=coverage,
    )  # fmt: skip
    return model, result.history


gmmn, gmmn_history = train("mmd")
gan, gan_history = train("gan")

# %% [markdown]
# ## 3. The same generator as a GAN
#
# `loss="gan"` pairs the generator with a discriminator (an MLP on logits) and the
# non-saturating loss; `fit` takes one discriminator step with its own Adam optimizer before every
# generator step (`AdversarialLoss(adversary_steps=k)` for more). The history has both players'
# losses: at the game's equilibrium the discriminator's logistic loss is $2 \log 2 = 1.386$.

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
for ax, (name, model) in zip(axes, {"GMMN (MMD)": gmmn, "GAN": gan}.items()):
    plot_samples_2d(ring.test, model.sample(2500), ax=ax)
    ax.set_title(name)
for name, history in {"GMMN": gmmn_history, "GAN": gan_history}.items():
    axes[2].plot(history["step"], history["modes"], "o-", ms=3, label=name)
axes[2].set(xlabel="generator step", ylabel="modes captured (of 8)", ylim=(-0.3, 8.5))
axes[2].set_title("mode coverage over training")
axes[2].legend()
save(fig, "ring8_samples_and_coverage")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
plot_history(gmmn_history, ax=axes[0], label="GMMN")
axes[0].set(yscale="log", ylabel="MMD^2 per batch", title="GMMN loss")
plot_history(gan_history, ax=axes[1], label="GAN")
axes[1].axhline(2 * torch.log(torch.tensor(2.0)).item(), color="gray", ls=":", label="2 log 2")
axes[1].set(ylabel="nats per point", title="both players of the GAN")
axes[1].legend(fontsize="small")
save(fig, "losses_of_both_players")

# %% [markdown]
# ## 4. Scoring samples
#
# No likelihood, so every score compares samples with held-out data:
#
# - modes captured and the high-quality fraction (nearest mode within 3 std);
# - MMD^2 to 1000 test points with its permutation p-value (a small p-value: the generator is
#   distinguishable from the data at this sample size);
# - the memorization check: nearest-training-point distances of samples against those of held-out
#   points (ratio near 1 and `copy_fraction` near 0.05 without memorization; a ratio far above 1
#   means samples fall between the modes);
# - the kernel-density log-likelihood of the test points, a relative score only.

# %%
rows = []
for name, model in {"GMMN": gmmn, "GAN": gan}.items():
    pyro.set_rng_seed(1)
    samples = model.sample(2500)
    modes = mode_coverage(samples, centers, std)
    test = mmd_test(samples[:1000], ring.test[:1000], num_permutations=200)
    memo = memorization_check(samples, ring.train, ring.test)
    rows.append(
        {
            "model": name,
            "modes captured": modes["modes_captured"],
            "high-quality fraction": modes["high_quality_fraction"],
            "MMD^2": test.statistic,
            "p-value": test.p_value,
            "NN distance ratio": memo["ratio"],
            "copy fraction": memo["copy_fraction"],
            "KDE log-lik": float(kde_log_likelihood(samples, ring.test, bandwidth=std).mean()),
        }
    )
scores = pd.DataFrame(rows)
print(scores.to_string(index=False, float_format="%.3g"))

# %% [markdown]
# `benchmarks/adversarial_mmd_toy2d.py` runs both losses on the ring and on the grid of 25
# Gaussians over three seeds; its table is in `benchmarks/results/adversarial_mmd_toy2d.md`.
#
# ## 5. Composing objectives: the MMD-VAE
#
# A VAE's KL term pulls each $q(z \mid x)$ towards the prior, yet the **aggregate** posterior
# $q(z) = E_x\, q(z \mid x)$, what the decoder actually sees, can still leave holes in the prior
# that decode to junk. InfoVAE adds $\lambda\,\mathrm{MMD}^2(q(z), p(z))$, estimated on the
# batch's codes against prior draws. In ppgen that is one expression; `fit` logs each term in a
# `loss/<term>` column. The MMD term reads only the guide's site, so its gradient reaches the
# encoder alone (a test checks this).

# %%
digits = ppgen.load_dataset("digits", binarize="threshold")
VAE_STEPS = 20 if SMOKE else 3000
objectives = {
    "ELBO": elbo("trace"),
    "ELBO + 100 MMD(q(z), p(z))": elbo("trace") + 100 * MMDLoss(site="z", target="prior"),
    "ELBO + adversarial q(z) vs p(z)": elbo("trace")
    + 10 * AdversarialLoss(site="z", target="prior"),
}
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
rows = []
for ax, (name, objective) in zip(axes, objectives.items()):
    torch.manual_seed(0)
    vae = VAE(64, latent_dim=2, hidden_dims=(100, 100))
    ppgen.fit(vae, digits, loss=objective, steps=VAE_STEPS, lr=3e-3, progress=False)
    pyro.set_rng_seed(0)
    with torch.no_grad():
        codes = pyro.poutine.trace(vae.guide).get_trace(digits.test).nodes["z"]["value"]
        score = elbo("trace", max_plate_nesting=1)(vae.model, vae.guide, digits.test)
        test_elbo = -float(score) / len(digits.test)
    prior = torch.randn(codes.shape, generator=torch.Generator().manual_seed(0))
    rows.append(
        {"objective": name, "test ELBO": test_elbo, "MMD^2(q(z), p(z))": float(mmd2(codes, prior))}
    )
    ax.scatter(*prior.T, s=3, c="lightgray", label="prior draws")
    ax.scatter(*codes.T, s=3, c=digits.test_labels, cmap="tab10", label="q(z) of test digits")
    ax.set(title=name, xlim=(-4, 4), ylim=(-4, 4), aspect="equal")
    ax.legend(fontsize="x-small", markerscale=3, loc="upper right")
save(fig, "aggregate_posterior")
print(pd.DataFrame(rows).to_string(index=False, float_format="%.3f"))

# %% [markdown]
# Both penalties bring the aggregate posterior closer to the prior (lower MMD^2 to prior draws).
# They are not free: in our full run (the figure) the MMD penalty at lambda = 100 cost about 4 nats
# of test ELBO and mixed the digit classes in the code, while the adversarial one cost about 1 nat.
# lambda trades the two. The adversarial term is the adversarial
# autoencoder's regularizer (Makhzani et al. 2016): a discriminator between codes and prior draws,
# trained by `fit` with its own optimizer.
