# %% [markdown]
# # Tutorial 4: normalizing flows -- exact likelihoods from invertible maps
#
# A normalizing flow writes data as an invertible, differentiable map of noise, $x = f(u)$ with
# $u \sim N(0, I)$. The change-of-variables formula then gives the density exactly,
#
# $$\log p(x) = \log N\big(f^{-1}(x)\big) + \log\Big|\det \frac{\partial f^{-1}(x)}{\partial x}\Big|,$$
#
# so a flow is trained by plain maximum likelihood -- no bound, no guide. The art is in maps whose
# inverse and Jacobian determinant are cheap. All of ppgen's flows are **triangular**: the Jacobian
# is triangular, its determinant the product of the diagonal.
#
# - **Affine coupling** (RealNVP, Dinh et al. 2017): half of the coordinates pass unchanged and
#   set a scale and shift for the other half, $y_B = x_B \odot e^{s(x_A)} + t(x_A)$. Both
#   directions cost one network pass. Consecutive layers swap the halves.
# - **Autoregressive** (MAF, Papamakarios et al. 2017; IAF, Kingma et al. 2016): coordinate $i$
#   is scaled and shifted by functions of coordinates $< i$ (a MADE network). One direction is a
#   single pass, the other $D$ sequential passes. MAF puts the fast direction on density
#   evaluation (a density model), IAF on sampling (a guide: it scores its own samples for free).
# - **Neural spline flows** (Durkan et al. 2019): the affine map replaced by a monotone
#   rational-quadratic spline, far more flexible per layer.
#
# Each is a few lines over Pyro's transforms (`ppgen/models/flows/`). `ppgen.models.FlowDensity`
# makes one a Pyro model whose guide is empty, so the ELBO *is* $\log p(x)$ and `ppgen.fit`
# trains it by maximum likelihood like any other model.
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
from ppgen.evaluation import bits_per_dim
from ppgen.models import FlowDensity
from ppgen.models.flows import available_flows, build_flow
from ppgen.plots import image_grid, plot_densities_2d, plot_history, unflatten_images

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/04_flows")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)
STEPS = 20 if SMOKE else 2500


def save(fig, name):
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


print(pd.Series(available_flows()).to_string())

# %% [markdown]
# ## The log-determinant, checked
#
# The whole method rests on $\log|\det J|$ being right. Every flow in ppgen is tested against the
# Jacobian that autograd computes; here is that check for a RealNVP on three coordinates.

# %%
torch.manual_seed(0)
transform = build_flow("realnvp", 3, num_layers=2).transform()
u = torch.randn(3)
x = transform(u)
jacobian = torch.autograd.functional.jacobian(lambda v: transform(v.clone()), u)
print(
    f"log|det J| from the flow: {float(transform.log_abs_det_jacobian(u, x)):.6f}, "
    f"from autograd: {float(torch.linalg.slogdet(jacobian).logabsdet):.6f}"
)

# %% [markdown]
# ## Every flow on a density we know
#
# The two-moons data set comes with its true density, so the held-out gap
# $\mathbb E[\log p_{\text{true}}(x) - \log p_{\text{flow}}(x)]$ estimates
# $\mathrm{KL}(p_{\text{true}}\,\|\,p_{\text{flow}})$: how many nats per point the flow still
# misses. `init_from_data` sets the flow's first layer (an ActNorm) so that the data enter it
# standardized.

# %%
data = ppgen.load_dataset("moons")
rows, densities, histories = [], {}, {}
for name in sorted(available_flows()):
    torch.manual_seed(0)
    options = {"count_bins": 16} if name.startswith("nsf") else {}
    model = FlowDensity(2, name, num_layers=4, **options).init_from_data(data.train)
    result = ppgen.fit(model, data, steps=STEPS, lr=3e-3, batch_size=512, progress=False)
    with torch.no_grad():
        gap = float((data.log_density(data.test) - model.log_prob(data.test)).mean())
    rows.append(
        {"flow": name, "gap (nats)": gap, "seconds": float(result.history["wall_time"].iloc[-1])}
    )
    densities[name] = model.log_prob
    histories[name] = result.history
print(pd.DataFrame(rows).to_string(index=False))
densities["true density"] = data.log_density
save(plot_densities_2d(data.test, densities), "moons_densities")

fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
for name, history in histories.items():
    val = history.dropna(subset=["val_log_lik"])
    ax.plot(val["step"], val["val_log_lik"], "o-", ms=3, label=name)
ax.axhline(float(data.log_density(data.val).mean()), color="k", ls="--", label="true density")
ax.set(xlabel="step", ylabel="validation log p(x)", title="maximum likelihood on moons")
ax.legend(fontsize="small")
save(fig, "moons_training")

# %% [markdown]
# The spline flow gets closest per layer; affine flows need more layers to bend the moons.
# `benchmarks/flows_toy2d.py` runs every flow on four toy densities with a larger budget; the
# spline flow comes within 0.05 nats of the true density on all four, including 8 and 25 narrow
# Gaussians.
#
# ## Densities of images: dequantization and bits per dimension
#
# Pixels are discrete (17 levels for digits), and a continuous density on discrete points can
# grow without bound. Uniform **dequantization** adds $u \sim U[0, 1)$ to each level and divides by
# the number of levels; the log-density of the result, minus $D \log 17$, lower-bounds the
# log-probability of the discrete image (Theis et al. 2016). `preprocess="logit"` adds RealNVP's
# fixed logit map, so the flow works on an unbounded scale while the density stays on the data's
# own. Results are quoted in **bits per dimension**.

# %%
digits = ppgen.load_dataset("digits", dequantize=True)
log_det = digits.meta["dequantization_log_det"]
torch.manual_seed(0)
flow = FlowDensity(64, "maf", num_layers=4, hidden_dims=[128], preprocess="logit")
flow.init_from_data(digits.train)
result = ppgen.fit(
    flow, digits, steps=20 if SMOKE else 300, lr=1e-3, batch_size=128, progress=False
)
with torch.no_grad():
    test_ll = float(flow.log_prob(digits.test).mean())
uniform_bpd = math.log2(17)  # every level equally likely
print(
    f"MAF on dequantized digits: {bits_per_dim(test_ll, 64, log_det):.3f} bits/dim "
    f"(uniform over the 17 levels: {uniform_bpd:.3f})"
)
save(plot_history(result.history.iloc[5:]), "digits_loss")

# %% [markdown]
# With only 1000 training images a flow overfits fast: the validation log-likelihood peaks after
# a few hundred steps, then falls while the training loss keeps improving. Run longer to see it:
# a 6-layer MAF with 256-unit networks trained for 2500 steps ends *worse* on the test images than
# the uniform density (36 bits/dim). Watch `val_log_lik` in `result.history` and stop early.
with torch.no_grad():
    samples = flow.sample(40).clamp(0, 1)  # the logit map's support is slightly wider than [0, 1]
save(
    image_grid(
        unflatten_images(samples, digits.meta["image_shape"]),
        suptitle="MAF samples (dequantized digits)",
    ),
    "digits_samples",
)

# %% [markdown]
# ## Flows inside other models
#
# A flow is also a better *guide* and a better *prior*: `VAE(..., guide="iaf")` uses conditional
# IAF layers for $q(z \mid x)$ (tutorial 3), and `VAE(..., prior="flow")` learns $p(z)$ as a flow,
# evaluated on the guide's samples in the fast direction.
#
# From the command line: `ppgen fit flow --data moons --option flow=nsf` writes the density
# figure with the run, and `ppgen evaluate RUN_DIR` re-scores it.
