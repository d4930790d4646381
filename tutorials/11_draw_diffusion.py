# %% [markdown]
# # Tutorial 11: DRAW and diffusion -- latent variable models that work in steps
#
# Two models build an image over many steps, and both are, underneath, VAEs.
#
# **DRAW** (Gregor et al. 2015) draws on a canvas in $T$ steps. At each step a decoder LSTM takes a
# fresh latent $z_t \sim N(0, I)$ and *writes* a patch onto the canvas; the encoder LSTM *reads*
# a glimpse of the image and of the error image $x - \sigma(c_{t-1})$ where the decoder's state
# points. Reading and writing go through **Gaussian filterbanks**: an $N \times N$ grid of
# Gaussian filters whose centre, stride and width are outputs of the network, so where to look is
# learned by the ELBO's gradient. The $T$ steps are a `pyro.markov` loop in both programs.
#
# **Diffusion** (Sohl-Dickstein et al. 2015; Ho et al. 2020) is a hierarchical VAE whose *guide*
# is fixed: the forward chain adds Gaussian noise, $q(y_t \mid y_{t-1}) = N(\sqrt{1-\beta_t}\,
# y_{t-1}, \beta_t I)$, until nothing of the data is left. The *model* learns to run the chain
# backwards. Its ELBO splits into $T + 1$ terms that each have a closed form given a sample of
# $y_t \sim q(y_t \mid y_0)$, so one random step per data point, times $T$, is an unbiased
# estimate of the whole ELBO: ppgen's `"timestep"` estimator.
#
# Run as a script or a notebook; `PPGEN_SMOKE=1` runs it with tiny budgets.

# %%
import os
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pyro
import torch

import ppgen
from ppgen.evaluation import elbo, log_importance_weights, log_likelihood
from ppgen.models import DRAW, VAE, Diffusion
from ppgen.models.attention import Attention
from ppgen.plots import image_grid, unflatten_images

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/11_draw_diffusion")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)
STEPS = 6 if SMOKE else 2000
EVAL_SAMPLES = 10 if SMOKE else 1000


def save(fig, name):
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


digits = ppgen.load_dataset("digits", binarize="threshold")
shape = digits.meta["image_shape"]

# %% [markdown]
# ## Where DRAW looks: the filterbank
#
# Five numbers place a $3 \times 3$ read grid: centre $(g_x, g_y)$, stride $\delta$, filter
# variance $\sigma^2$ and intensity $\gamma$. Below, one digit read by a wide grid with blurred
# filters, a tight grid on the centre, and a grid in a corner; the glimpse is what the encoder
# sees.

# %%
reader = Attention(state_dim=1, image_shape=shape, size=3)
settings = {  # (g_x, g_y, log stride, log variance, log gamma)
    "whole image, blurred": (0.0, 0.0, 0.0, 1.0, 0.0),
    "centre, sharp": (0.0, 0.0, -1.2, -2.0, 0.0),
    "top-left corner": (-0.7, -0.7, -1.2, -1.0, 0.0),
}
fig, axes = plt.subplots(2, len(settings) + 1, figsize=(8, 4), layout="constrained")
axes[0, 0].imshow(digits.train[0].reshape(shape), cmap="gray_r")
axes[0, 0].set_title("image")
axes[1, 0].axis("off")
for column, (label, bias) in enumerate(settings.items(), start=1):
    with torch.no_grad():
        reader.params.weight.zero_()
        reader.params.bias.copy_(torch.tensor(bias))
        f_x, f_y, _ = reader.banks(torch.zeros(1))
        glimpse = reader.read(digits.train[:1], torch.zeros(1, 1)).reshape(3, 3)
    axes[0, column].imshow((f_y.T @ f_y.new_ones(3, 3) @ f_x), cmap="magma")
    axes[0, column].set_title(label, fontsize="small")
    axes[1, column].imshow(glimpse, cmap="gray_r")
    axes[1, column].set_title("3 x 3 glimpse", fontsize="small")
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
save(fig, "filterbanks")

# %% [markdown]
# ## DRAW on binarized digits, and a VAE of about the same size
#
# Both are trained by the same estimator -- the importance-weighted bound with K = 5 -- and scored
# by importance sampling on the test images. DRAW's $T = 8$ steps of 4 latents make 32 latent
# dimensions, built up in order.


# %%
def train(model, estimator="iwae", particles=5, steps=STEPS, lr=3e-3):
    torch.manual_seed(0)
    model.init_from_data(digits.train)
    start = time.perf_counter()
    ppgen.fit(model, digits, estimator=estimator, num_particles=particles, steps=steps,
              lr=lr, batch_size=100, progress=False)  # fmt: skip
    return time.perf_counter() - start


draw = DRAW(64, steps=8, latent_dim=4, hidden_dim=64, image_shape=shape)
vae = VAE(64, latent_dim=32, hidden_dims=[120, 120])
rows = []
for name, model in (("DRAW (attention, T=8)", draw), ("VAE (MLP)", vae)):
    seconds = train(model)
    pyro.set_rng_seed(0)
    with torch.no_grad():
        nll = -float(log_likelihood(model, digits.test, num_samples=EVAL_SAMPLES).mean())
    parameters = sum(p.numel() for p in model.parameters())
    rows.append({"model": name, "parameters": parameters, f"test NLL (k={EVAL_SAMPLES})": nll,
                 "fit seconds": seconds})  # fmt: skip
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown]
# One seed decides little here: in the reference table (`benchmarks/digits_reference.py`, three
# seeds, k = 5000) DRAW is ahead of the VAE on two seeds and behind on one, within a quarter of a
# nat either way.
#
# Sampling runs the decoder alone: draw $z_t$ from the prior, write, repeat. `DRAW.canvases`
# returns the canvas after every step; each row below is one sample drawn from the blank canvas
# (the mean image's logits, `init_from_data`) to the finished digit.

# %%
torch.manual_seed(1)
frames = draw.canvases(6)  # (T + 1, 6, 64)
fig, axes = plt.subplots(6, frames.shape[0], figsize=(9, 6.5), layout="constrained")
for row in range(6):
    for step in range(frames.shape[0]):
        axes[row, step].imshow(frames[step, row].reshape(shape), cmap="gray_r", vmin=0, vmax=1)
        axes[row, step].set_xticks([]), axes[row, step].set_yticks([])
        if row == 0:
            axes[row, step].set_title(f"t = {step}", fontsize="small")
fig.suptitle("DRAW: the canvas step by step")
save(fig, "draw_canvases")

# %% [markdown]
# ## Diffusion: one random step is an unbiased ELBO
#
# `Diffusion.elbo_terms(x)` returns the $T + 1$ terms of the ELBO, each from one sample; the
# `"timestep"` estimator keeps the prior's term and one random step's term, times $T$. Its mean
# equals the full ELBO's (``Trace_ELBO`` on the whole chain) -- the test suite checks it on 20000
# draws -- and it costs two network passes instead of $T$. Here both estimators on one image of an
# untrained model: the running means settle on the same value, the random-timestep draws far
# noisier than the full chain's. What it buys is cost per step (`benchmarks/diffusion_toy2d.py`
# times both: about a tenth of the full chain's on the 2-D toys).

# %%
torch.manual_seed(0)
diffusion = Diffusion(64, steps=20, hidden_dims=(256, 256)).init_from_data(digits.train)
x = digits.test[:1]
with torch.no_grad():
    draws = 200 if SMOKE else 5000
    timestep = diffusion.random_timestep_elbo(x.repeat(draws, 1))
    full = log_importance_weights(diffusion, x, num_samples=draws)[:, 0]
print(
    f"full-chain ELBO {float(full.mean()):.1f} +- {float(full.std() / draws**0.5):.1f}, "
    f"random-timestep {float(timestep.mean()):.1f} +- {float(timestep.std() / draws**0.5):.1f}"
)
# The running mean of each estimator over its draws, with +-2 standard errors of the final mean:
# the random-timestep draws are heavy-tailed (one step's term times T), yet they settle where the
# full chain's do.
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
count = torch.arange(1, draws + 1)
for label, values in (("full chain (trace)", full), ("random timestep", timestep)):
    line = ax.plot(count, values.cumsum(0) / count, label=label)[0]
    mean, error = float(values.mean()), 2 * float(values.std()) / draws**0.5
    ax.axhspan(mean - error, mean + error, color=line.get_color(), alpha=0.2)
settled = torch.cat([(v.cumsum(0) / count)[draws // 10 :] for v in (full, timestep)])
margin = float(settled.max() - settled.min())
ax.set_ylim(float(settled.min()) - margin, float(settled.max()) + margin)
ax.set_xscale("log")
ax.set(xlabel="draws", ylabel="running mean of the ELBO estimate (nats)",
       title="two unbiased estimators of one ELBO")  # fmt: skip
ax.legend()
save(fig, "diffusion_estimators")

# %% [markdown]
# ## Diffusion on a density we know
#
# On two moons, with a Gaussian decoder at the last step, the model's ELBO is a lower bound on its
# own log-density, which is itself below the true density on average (Gibbs' inequality). So the
# held-out ELBO must stay below the true mean log-density; how close it gets is the quality of the
# fit *and* the tightness of the bound together.

# %%
moons = ppgen.load_dataset("moons")
torch.manual_seed(0)
toy = Diffusion(2, steps=20, hidden_dims=(128, 128), likelihood="gaussian")
toy.init_from_data(moons.train)
ppgen.fit(toy, moons, estimator="timestep", steps=STEPS * 2, lr=2e-3, batch_size=512,
          progress=False)  # fmt: skip
pyro.set_rng_seed(0)
with torch.no_grad():
    held_out = float(elbo(toy, moons.test, num_samples=EVAL_SAMPLES // 10 or 2).mean())
    truth = float(moons.log_density(moons.test).mean())
print(
    f"moons: held-out ELBO {held_out:.3f}, true log-density {truth:.3f}, gap {truth - held_out:.3f}"
)

torch.manual_seed(2)
chain = toy.reverse_chain(1000)  # (T + 1, 1000, 2), data space
shown = [0, 10, 15, 18, 19, 20]
fig, axes = plt.subplots(1, len(shown), figsize=(12, 2.4), layout="constrained", sharey=True)
for ax, index in zip(axes, shown):
    ax.scatter(*chain[index].T, s=2, alpha=0.5)
    ax.set_title(f"y_{20 - index}" if index < 20 else "decoder mean", fontsize="small")
    ax.set(xlim=(-2.5, 3.5), ylim=(-2, 2.5))
fig.suptitle("the reverse chain, from noise to two moons")
save(fig, "moons_reverse_chain")

# %% [markdown]
# ## Diffusion on binarized digits
#
# The same model on digits, with a Bernoulli decoder at the last step: its ELBO in nats per image
# goes into the reference table (`benchmarks/digits_reference.py`) next to the exact likelihoods
# of NADE and MADE and the importance-sampled ones of the VAEs. It is a bound, not an estimate
# of $\log p(x)$. With the table's budget (10000 cheap steps at learning rate 1e-3) it reaches
# about -38 nats per image, the table's row, against about -18 for NADE's exact log-likelihood,
# and is still improving (`fit` warns that it has not converged). With $T = 20$ steps and a
# Bernoulli decoder the reverse chain is coarse for binary data; `Diffusion.elbo_terms(x)` shows
# which steps cost the most.

# %%
# Cheap steps (two network passes each), at the reference table's budget and learning rate.
train(diffusion, estimator="timestep", particles=1, steps=5 * STEPS, lr=1e-3)
pyro.set_rng_seed(0)
with torch.no_grad():
    bound = float(elbo(diffusion, digits.test, num_samples=EVAL_SAMPLES // 10 or 2).mean())
print(f"diffusion on binarized digits: test ELBO {bound:.2f} nats per image")
torch.manual_seed(3)
chain = diffusion.reverse_chain(8)  # (T + 1, 8, 64)
picked = chain[[0, 5, 10, 15, 18, 19, 20]].transpose(0, 1).reshape(-1, 64)
save(
    image_grid(unflatten_images(picked.clamp(0, 1), shape), ncols=7,
               suptitle="diffusion: the reverse chain (left to right), 8 samples"),
    "digits_reverse_chain",
)  # fmt: skip
