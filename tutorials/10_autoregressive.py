# %% [markdown]
# # Tutorial 10: autoregressive models -- NADE, MADE, RNADE, orderings and ensembles
#
# Any density factorises along an ordering $o$ of the dimensions,
#
# $$p(x) = \prod_{d=1}^{D} p(x_{o_d} \mid x_{o_{<d}}),$$
#
# so a model that outputs each conditional from the dimensions before it has an **exact**
# likelihood, with no latent variables and no bound. The models differ in how the conditionals
# share work:
#
# - **NADE** (Larochelle & Murray 2011) computes conditional $d$ from a hidden layer
#   $h_d = \sigma(c + W_{:, o_{<d}} x_{o_{<d}})$. The hidden layers share $W$, so all $D$ of them
#   come from one running sum: an $O(DH)$ pass instead of $O(D^2 H)$.
# - **MADE** (Germain et al. 2015) masks an ordinary autoencoder so that output $d$ sees only the
#   inputs before $d$: one pass of an MLP gives every conditional.
# - **RNADE** (Uria et al. 2013) is NADE for real values, each conditional a mixture of Gaussians.
#
# Which ordering? None is special for images. **Order-agnostic training** (Uria et al. 2014)
# trains one network for many orderings at once, and averaging the orderings' densities at test
# time, an **ensemble**, is itself a density, better than any one of its members
# (Murray & Larochelle 2014). In ppgen an ensemble of $K$ orderings is literally the mixture
# $p(x) = \frac1K \sum_k p_k(x)$: the ordering is a latent site in the Pyro model whose guide is
# the prior, so the ELBO every estimator maximises is $\mathbb E_k[\log p_k(x)]$ -- exactly the
# order-agnostic objective -- and `log_prob` is the exact ensemble.
#
# Run as a script or a notebook; `PPGEN_SMOKE=1` runs it with tiny budgets.

# %%
import math
import os
import sys
import tempfile
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import torch

import ppgen
from ppgen.evaluation import (
    bits_per_dim,
    fit_bernoulli_mixture,
    independent_bernoulli_log_lik,
    latent_activity,
    log_likelihood,
)
from ppgen.models import MADE, NADE, RNADE, VAE
from ppgen.models.sbn import all_binary_states
from ppgen.plots import image_grid, plot_densities_2d, plot_latent_activity, unflatten_images

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/10_autoregressive")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)
STEPS = 6 if SMOKE else 2000
ORDERINGS = 2 if SMOKE else 8


def save(fig, name):
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


# %% [markdown]
# ## Exact, and autoregressive: two checks
#
# On ten bits there are only 1024 vectors, so the probabilities can be summed: a NADE's, a MADE's
# and their ensembles' sum to one to float precision. The second check is the autoregressive
# property itself: the Jacobian of the conditionals with respect to the inputs, reordered by the
# member's ordering, is strictly lower-triangular -- conditional $d$ does not move when $x_d$ or
# any later input does. ppgen's tests check both for every member of every model.

# %%
torch.manual_seed(0)
states = all_binary_states(10)
for model in (NADE(10, num_orderings=3), MADE(10, hidden_dims=(32, 32), num_masks=3)):
    with torch.no_grad():
        total = float(torch.logsumexp(model.log_prob(states), 0).exp())
    print(f"{type(model).__name__} with {model.ensemble_size} members: sum of p(x) = {total:.7f}")

nade = NADE(64, num_orderings=2).double()
x = torch.rand(64, dtype=torch.float64)
fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), layout="constrained")
for member, ax in enumerate(axes):
    index = torch.tensor(member)
    jacobian = torch.autograd.functional.jacobian(
        lambda v, index=index: nade.conditionals(v, index)[0], x
    )
    order = nade.orderings[member]
    ax.imshow(jacobian[order][:, order].abs().log10().clamp(min=-8), cmap="viridis")
    ax.set(title=f"member {member}: log10 |d logit / d x|", xlabel="input, in member's order")
    ax.set_ylabel("conditional, in member's order")
save(fig, "jacobians")

# %% [markdown]
# ## Binarized digits: NADE and MADE against a mixture of Bernoullis
#
# The reference density for binary images is a **mixture of independent Bernoullis** fitted by
# EM (`ppgen.evaluation.fit_bernoulli_mixture`). An autoregressive model must beat it to be worth
# its parameters. All models see the same threshold-binarized digits (`ppgen.load_dataset`'s
# split: 1000 training, 350 validation, 447 test images).

# %%
digits = ppgen.load_dataset("digits", binarize="threshold")
rows = [
    {
        "model": "independent Bernoulli",
        "test log p(x)": float(independent_bernoulli_log_lik(digits.train, digits.test).mean()),
    }
]
for components in (10, 30):
    mixture = fit_bernoulli_mixture(digits.train, components, seed=0)
    rows.append(
        {
            "model": f"Bernoulli mixture, {components} (EM)",
            "test log p(x)": float(mixture.log_prob(digits.test).mean()),
        }
    )


def train(model):
    torch.manual_seed(0)
    model.init_from_data(digits.train)
    result = ppgen.fit(model, digits, steps=STEPS, lr=3e-3, progress=False)
    return model, result.history


single_nade, _ = train(NADE(64, hidden_dim=100))
single_made, _ = train(MADE(64, hidden_dims=(200,)))
with torch.no_grad():
    for name, model in (("NADE, one ordering", single_nade), ("MADE, one mask", single_made)):
        rows.append({"model": name, "test log p(x)": float(model.log_prob(digits.test).mean())})
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown]
# ## Order-agnostic training and ensembles
#
# Now one NADE for 8 orderings (the natural one and 7 random ones). Each training step draws an
# ordering per image from the guide (the uniform prior), so every ordering gets trained; at test
# time the ensemble averages the 8 densities. Adding members raises the held-out log-likelihood:
# the log of an average beats the average of the logs (Jensen), and by more where the members
# disagree. The same holds for MADE, whose members differ in ordering *and* in the connectivity
# of their hidden units.
#
# Trained for many orderings, NADE's hidden layer sees a running sum in which an absent pixel and a
# pixel observed as 0 look the same. Uria et al. (2014) found it crucial to add the *input mask*
# (which pixels are present) as a second input; `NADE(..., num_orderings=K)` does so by default
# (`mask_inputs`), at the cost of a second running sum shared by every image.

# %%
ensembles = {
    "NADE": train(NADE(64, hidden_dim=100, num_orderings=ORDERINGS))[0],
    "MADE": train(MADE(64, hidden_dims=(200,), num_masks=ORDERINGS))[0],
}
fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
for name, model in ensembles.items():
    with torch.no_grad():
        members = model.member_log_probs(digits.test)  # (K, test points)
    sizes = range(1, model.ensemble_size + 1)
    curve = [float((members[:m].logsumexp(0) - math.log(m)).mean()) for m in sizes]
    ax.plot(sizes, curve, "o-", label=f"{name}: ensemble of the first m members")
    ax.plot(sizes, members.mean(1), "x", color=ax.lines[-1].get_color(), alpha=0.6)
    rows.append({"model": f"{name}, ensemble of {model.ensemble_size}", "test log p(x)": curve[-1]})
    rows.append(
        {"model": f"{name}, its best member", "test log p(x)": float(members.mean(1).max())}
    )
for row in rows[1:3]:
    ax.axhline(row["test log p(x)"], ls="--", color="grey")
    ax.annotate(row["model"], (1, row["test log p(x)"]), fontsize="small", va="bottom")
ax.set(xlabel="members m", ylabel="test log p(x) (nats)", title="ensembles of orderings")
ax.legend(fontsize="small")
save(fig, "ensembles")
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown]
# The crosses are single members of the order-agnostic models. Each is worse than a model
# trained for one ordering alone (the table above): order-agnostic training spreads one network
# over many tasks. The ensemble wins that back for MADE, whose ensemble beats the one-mask MADE;
# for this one-hidden-layer NADE it wins back only part of it, and the NADE trained for one
# ordering stays best. `benchmarks/digits_reference.py` measures all of these on three seeds,
# next to the other models of ppgen.
#
# Sampling is ancestral: one dimension at a time, each from its conditional given the ones drawn
# before -- $D$ passes of the network, where evaluation took one.

# %%
with torch.no_grad():
    samples = ensembles["NADE"].sample(40)
save(
    image_grid(
        unflatten_images(samples, digits.meta["image_shape"]),
        suptitle="samples of the NADE ensemble",
    ),
    "nade_samples",
)

# %% [markdown]
# ## An autoregressive likelihood under a VAE
#
# An autoregressive model can also be a VAE's *decoder*: `VAE(..., autoregressive_decoder=[200])`
# makes $p(x \mid z) = \prod_d p(x_d \mid x_{<d}, z)$ with Pyro's conditional MADE reading the
# decoder's output. Such a decoder can model the pixels' dependencies without the code, and the
# ELBO's KL term pays for every nat the code carries -- so the code tends to go unused
# (posterior collapse). The active units (Burda et al. 2016) and the average
# $\mathrm{KL}(q(z \mid x) \,\|\, p(z))$ show it; `benchmarks/autoregressive_decoder.py` measures
# it over seeds and estimators.

# %%
vaes = {
    "independent pixels": VAE(64, 20, [100, 100]),
    "autoregressive decoder": VAE(64, 20, [100, 100], autoregressive_decoder=[200]),
}
activities, rows = {}, []
for name, model in vaes.items():
    train(model)
    with torch.no_grad():
        q = model.posterior(digits.test)
        kl = torch.distributions.kl_divergence(q.base_dist, torch.distributions.Normal(0.0, 1.0))
        nll = -float(log_likelihood(model, digits.test, num_samples=20 if SMOKE else 1000).mean())
        activities[name] = latent_activity(model, digits.test)
    rows.append({"VAE": name, "test NLL": nll, "KL(q || p)": float(kl.sum(-1).mean()),
                 "active units": int((activities[name] > 0.01).sum())})  # fmt: skip
print(pd.DataFrame(rows).to_string(index=False))
save(plot_latent_activity(activities), "vae_active_units")

# %% [markdown]
# ## RNADE: real-valued data
#
# RNADE's conditionals are mixtures of Gaussians, so it models continuous data. On two moons, whose
# density is known, its held-out gap to the truth is the KL divergence it still misses; on
# dequantized digits its density is quoted in bits per dimension, like a flow's (tutorial 4).

# %%
moons = ppgen.load_dataset("moons")
torch.manual_seed(0)
rnade = RNADE(2, hidden_dim=64, num_components=10, num_orderings=2).init_from_data(moons.train)
ppgen.fit(rnade, moons, steps=STEPS, lr=3e-3, batch_size=512, progress=False)
with torch.no_grad():
    gap = float((moons.log_density(moons.test) - rnade.log_prob(moons.test)).mean())
print(f"RNADE on moons: {gap:.3f} nats per point from the true density")
save(
    plot_densities_2d(moons.test, {"RNADE": rnade.log_prob, "true density": moons.log_density}),
    "moons_rnade",
)

dequantized = ppgen.load_dataset("digits", dequantize=True)
torch.manual_seed(0)
rnade = RNADE(64, hidden_dim=100, num_components=5).init_from_data(dequantized.train)
ppgen.fit(rnade, dequantized, steps=STEPS, lr=3e-3, progress=False)
with torch.no_grad():
    test_ll = float(rnade.log_prob(dequantized.test).mean())
log_det = dequantized.meta["dequantization_log_det"]
print(
    f"RNADE on dequantized digits: {bits_per_dim(test_ll, 64, log_det):.3f} bits/dim "
    f"(uniform over the 17 levels: {math.log2(17):.3f})"
)

# %% [markdown]
# From the command line: `ppgen fit nade --data digits --option num_orderings=8` trains an
# ensemble (binarized automatically for the Bernoulli likelihood), and `ppgen list` shows
# `nade`, `made` and `rnade` beside the other models.
