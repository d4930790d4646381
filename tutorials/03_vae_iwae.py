# %% [markdown]
# # Tutorial 3: variational autoencoders and importance-weighted autoencoders
#
# An autoencoder squeezes $x$ through a small code and reconstructs it. A **variational**
# autoencoder (Kingma & Welling 2014; Rezende et al. 2014) makes both halves probabilistic: a
# generative model $p_\theta(x, z) = p(z)\, p_\theta(x \mid z)$ whose decoder network gives the
# parameters of $p_\theta(x \mid z)$, and an amortized guide $q_\phi(z \mid x)$ whose encoder
# network gives the parameters of a Gaussian over the code. Both are trained together by
# maximizing the ELBO,
#
# $$\mathcal L(x) = \mathbb E_{q_\phi(z\mid x)}[\log p_\theta(x \mid z)]
#   - \mathrm{KL}\big(q_\phi(z \mid x)\,\|\,p(z)\big) \le \log p_\theta(x),$$
#
# a reconstruction term minus a penalty for codes that stray from the prior. Its gradient with
# respect to $\phi$ goes through the sample by **reparameterization**: $z = \mu_\phi(x) +
# \sigma_\phi(x)\,\epsilon$ with $\epsilon \sim N(0, I)$, so $\nabla_\phi$ moves inside the
# expectation (unlike the discrete latents of tutorial 2).
#
# In ppgen the VAE is one Pyro model/guide pair, `ppgen.models.VAE`, and every estimator of
# tutorial 2 trains it. This tutorial trains one on binarized digits, looks inside its latent
# space, then tightens the bound two ways: more samples (the IWAE of Burda et al. 2016) and a
# richer guide (inverse autoregressive flow, Kingma et al. 2016).
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
    active_units,
    elbo,
    independent_bernoulli_log_lik,
    latent_activity,
    log_likelihood,
    reconstruction_error,
)
from ppgen.models import VAE
from ppgen.plots import (
    image_grid,
    plot_latent_activity,
    plot_latent_codes,
    plot_latent_interpolation,
    plot_latent_manifold,
    plot_reconstructions,
    unflatten_images,
)

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/03_vae_iwae")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)
STEPS = 30 if SMOKE else 4000
EVAL_SAMPLES = 50 if SMOKE else 5000


def save(fig, name):
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


# %% [markdown]
# ## Data and the baseline to beat
#
# scikit-learn's 8x8 digits, binarized by threshold (pixel $\ge 8$ of 16), so that a Bernoulli
# likelihood is a proper one: grey values under a Bernoulli likelihood are a common bug that
# ppgen refuses. A model that treats every pixel as an independent coin already assigns some
# likelihood to the test digits; a VAE must do clearly better to have learned anything about
# how pixels co-vary.

# %%
data = ppgen.load_dataset("digits", binarize="threshold")
image = (data.meta["image_shape"], None)
baseline = float(independent_bernoulli_log_lik(data.train, data.test).mean())
print(f"independent Bernoulli pixels: test log p(x) = {baseline:.2f} nats per image")

# %% [markdown]
# ## A VAE with a two-dimensional code
#
# Two latent dimensions are too few for the best likelihood, but they can be looked at. The
# decoder's output bias starts at the log-odds of the mean image (`init_from_data`), so training
# spends its steps on structure rather than on the average digit.

# %%
torch.manual_seed(0)
vae2 = VAE(data.num_features, latent_dim=2, hidden_dims=[100, 100]).init_from_data(data.train)
result = ppgen.fit(vae2, data, steps=STEPS, batch_size=100, progress=False)
pyro.set_rng_seed(0)
with torch.no_grad():
    nll2 = -float(log_likelihood(vae2, data.test, EVAL_SAMPLES).mean())
print(f"2-D VAE: test -log p(x) = {nll2:.2f} (k={EVAL_SAMPLES}); baseline {-baseline:.2f}")
save(result.plot(), "loss_2d")

# %% [markdown]
# Kingma & Welling's figure: decode a grid of codes spaced evenly in prior probability. Nearby
# codes decode to similar digits, and the classes occupy regions of the plane, although no label
# was ever shown to the model.

# %%
save(plot_latent_manifold(vae2, *image, grid_size=15), "latent_manifold")
save(plot_latent_codes(vae2, data.test, data.test_labels), "latent_codes")
save(plot_reconstructions(data.test[:10], vae2.reconstruct(data.test[:10]), *image), "recon_2d")
save(plot_latent_interpolation(vae2, data.test[:4], data.test[4:8], *image), "interpolation")

# %% [markdown]
# ## Tighter bounds: the IWAE
#
# The ELBO's gap to $\log p(x)$ is $\mathrm{KL}(q(z\mid x)\,\|\,p(z\mid x))$, so a VAE trained by it
# pays for every posterior its guide cannot represent. Burda et al. (2016) average $K$ importance
# weights inside the log,
#
# $$\mathcal L_K(x) = \mathbb E\Big[\log \frac1K \sum_{k=1}^K
#   \frac{p(x, z_k)}{q(z_k \mid x)}\Big], \qquad
#   \mathcal L_1 = \mathcal L \le \mathcal L_K \le \mathcal L_{K+1} \le \log p(x),$$
#
# which tightens with $K$. With the same $K$ samples the two objectives differ only in where the
# average goes: outside the log (`estimator="trace", num_particles=K`, an ELBO estimate with less
# noise) or inside it (`estimator="iwae"`, a different, tighter objective). Both are vectorized:
# one pass over all $K$ samples.

# %%
K = 5 if SMOKE else 50
rows, activities, models = [], {}, {}
for label, estimator in {"VAE (ELBO)": "trace", "IWAE": "iwae"}.items():
    torch.manual_seed(0)
    model = VAE(data.num_features, 20, [100, 100]).init_from_data(data.train)
    ppgen.fit(
        model,
        data,
        estimator=estimator,
        num_particles=K,
        steps=STEPS,
        batch_size=100,
        progress=False,
    )
    pyro.set_rng_seed(0)
    with torch.no_grad():
        rows.append(
            {
                "training": f"{label}, K={K}",
                f"test NLL (k={EVAL_SAMPLES})": -float(
                    log_likelihood(model, data.test, EVAL_SAMPLES).mean()
                ),
                "test -ELBO": -float(elbo(model, data.test, 100).mean()),
                "reconstruction NLL": float(reconstruction_error(model, data.test).mean()),
                "active units": active_units(model, data.test),
            }
        )
        activities[label] = latent_activity(model, data.test)
    models[label] = model
table = pd.DataFrame(rows)
print(table.to_string(index=False))

# %% [markdown]
# The IWAE reaches the better test log-likelihood, and it keeps more of its 20 latent units
# **active**: a unit is active when its posterior mean moves with the input,
# $\mathrm{Cov}_x(\mathbb E_q[u\mid x]) > 0.01$. The ELBO's KL term pushes units that do not pay
# for themselves back to the prior (posterior collapse); the IWAE's bound penalises that less.
# `benchmarks/vae_digits.py` repeats this over seeds.

# %%
save(plot_latent_activity(activities), "latent_activity")
with torch.no_grad():
    samples = torch.cat([m.sample(10) for m in models.values()])
save(
    image_grid(unflatten_images(samples, *image), suptitle="samples: VAE (top), IWAE (bottom)"),
    "samples",
)

# %% [markdown]
# The bound hierarchy on one trained model: $\mathcal L_K$ for growing $K$, estimated per image
# (`ppgen.evaluation.log_likelihood` with `num_samples=K` *is* the $K$-sample bound). It rises
# and levels off towards $\log p(x)$.

# %%
ks = [1, 5, 50] if SMOKE else [1, 2, 5, 10, 50, 200, 1000, 5000]
pyro.set_rng_seed(0)
with torch.no_grad():
    bounds = [float(log_likelihood(models["IWAE"], data.test, k).mean()) for k in ks]
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.semilogx(ks, bounds, "o-")
ax.set(
    xlabel="K (samples inside the log)",
    ylabel="test L_K (nats per image)",
    title="L_1 <= L_K <= log p(x), IWAE-trained model",
)
save(fig, "bound_vs_k")

# %% [markdown]
# ## A richer guide: inverse autoregressive flow
#
# The other way to close the gap is a guide that can represent the posterior. `guide="iaf"`
# pushes the diagonal Gaussian through inverse autoregressive flow layers that also read the
# encoder's features, so $q(z \mid x)$ can be skewed and correlated; the density of its own samples
# still costs one network pass per layer. Trained by the same ELBO, it gives a tighter bound.

# %%
guide_rows = []
for guide in ("diagonal", "iaf"):
    torch.manual_seed(0)
    model = VAE(data.num_features, 20, [100, 100], guide=guide).init_from_data(data.train)
    ppgen.fit(model, data, steps=STEPS, batch_size=100, progress=False)
    pyro.set_rng_seed(0)
    with torch.no_grad():
        guide_rows.append(
            {
                "guide": guide,
                "test -ELBO": -float(elbo(model, data.test, 100).mean()),
                f"test NLL (k={EVAL_SAMPLES})": -float(
                    log_likelihood(model, data.test, EVAL_SAMPLES).mean()
                ),
            }
        )
print(pd.DataFrame(guide_rows).to_string(index=False))

# %% [markdown]
# ## A class-conditional VAE
#
# With `num_classes=10` the encoder and decoder also read a one-hot label, and the programs become
# `model(x, y)` and `guide(x, y)`. `ppgen.fit` passes each batch's labels from the data set;
# sampling takes the labels to draw. The code now only has to carry the style of the digit.

# %%
torch.manual_seed(0)
cvae = VAE(data.num_features, 2, [100, 100], num_classes=10).init_from_data(data.train)
ppgen.fit(cvae, data, steps=STEPS, batch_size=100, progress=False)
labels = torch.arange(10).repeat_interleave(8)
with torch.no_grad():
    by_class = cvae.sample(len(labels), y=labels)
save(
    image_grid(unflatten_images(by_class, *image), ncols=16, suptitle="samples by class"),
    "conditional_samples",
)

# %% [markdown]
# ## Where to go next
#
# - `ppgen fit vae --data digits --estimator iwae --num-particles 50` trains from the command line
#   and writes these figures; `ppgen evaluate RUN_DIR` re-scores a saved run with k = 5000.
# - `encoder="conv", decoder="conv"` swaps the MLPs for convolutions (MNIST-sized images);
#   `likelihood="gaussian"` or `"continuous_bernoulli"` model grey-level pixels;
#   `prior="flow"` learns the prior as a normalizing flow (tutorial 4).
