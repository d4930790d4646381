# %% [markdown]
# # Tutorial 8: your own Pyro programs, unchanged
#
# ppgen's first promise: you write a model/guide pair the way Pyro users write it, and you get
# training, estimator comparison, scoring and ArviZ analysis without rewriting it for ppgen. This
# tutorial takes three of Pyro's own example programs with their model and guide code as Pyro
# wrote them (`tutorials/pyro_examples.py`) and one autoguide:
#
# 1. Pyro's **VAE** (`examples/vae/vae.py`) on digits, trained by the ELBO and by the IWAE bound
#    side by side, scored by importance sampling;
# 2. an **AutoNormal guide on local latents** with minibatches: the per-row parameters that ppgen
#    keeps aligned with their rows (and the refusal that explains how when they cannot be);
# 3. Pyro's **deep Markov model** (`examples/dmm.py`) on synthetic sequences of different lengths:
#    a plate called `z_minibatch`, a `pyro.markov` chain, masks;
# 4. Pyro's **sparse gamma DEF** (`examples/sparse_gamma_def.py`), a model with global latents:
#    bounds over the joint of the globals and the data, and the posterior in ArviZ.
#
# Nothing in the programs names a ppgen concept: ppgen reads the data plate, the plate nesting and
# which latents are global off one trace of each program (`ppgen.program.inspection`).
#
# Run as a script or a notebook; `PPGEN_SMOKE=1` runs it with tiny budgets.

# %%
import os
import sys
import tempfile
import warnings
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import arviz_stats
import matplotlib.pyplot as plt
import pandas as pd
import pyro
import pyro.distributions as dist
import torch
from pyro.infer.autoguide import AutoNormal

import ppgen
from ppgen.analysis import to_inference_data
from ppgen.evaluation import joint_log_likelihood, log_likelihood
from ppgen.program.errors import ProgramError
from ppgen.program.inspection import inspect_program

HERE = Path(__file__).parent if "__file__" in globals() else Path("tutorials")
sys.path.insert(0, str(HERE))
import pyro_examples  # noqa: E402  (Pyro's example programs, next to this file)

warnings.filterwarnings("ignore", category=FutureWarning)  # ArviZ's notice about its 1.0 API
SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/08_your_own_pyro_model")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)
STEPS = 30 if SMOKE else 1500
EVAL_SAMPLES = 20 if SMOKE else 500
torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


def save(fig, name):
    fig.savefig(FIGURES / f"{name}.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_histories(table, title, ax):
    for name, history in table.attrs["histories"].items():
        ax.plot(history["step"], history["loss"], label=name, lw=1)
    ax.set(xlabel="step", ylabel="loss per data point", title=title)
    ax.legend()


# %% [markdown]
# ## 1. Pyro's VAE, unchanged, trained by two bounds
#
# The example's networks read 784 pixels, so scikit-learn's 8x8 digits are resized to 28x28 and
# binarized: the program is untouched. `ppgen.compare` trains the pair once per estimator from the
# same starting parameters (a pair cannot be cloned, so its parameters are saved once and restored
# before each estimator), then scores each on held-out images by importance sampling.

# %%
digits = ppgen.load_dataset("digits")


def to_mnist_shape(x):
    images = x.reshape(-1, 1, 8, 8) / 16.0
    images = torch.nn.functional.interpolate(images, size=(28, 28), mode="bilinear")
    return (images > 0.35).float()  # binary, shape (N, 1, 28, 28) as the example's data loader


train_images, test_images = to_mnist_shape(digits.train), to_mnist_shape(digits.test)
if SMOKE:
    train_images, test_images = train_images[:64], test_images[:16]
torch.manual_seed(0)
vae = pyro_examples.PyroExampleVAE(z_dim=10, hidden_dim=200)
vae_table = ppgen.compare(
    (vae.model, vae.guide), train_images, ["trace", "iwae"], num_particles=5, steps=STEPS,
    batch_size=128, lr=1e-3, test_data=test_images, eval_samples=EVAL_SAMPLES, grad_repeats=5,
    grad_batch=32, progress=False,
)  # fmt: skip
print(vae_table[["estimator", "num_particles", "train_bound", "test_log_lik", "seconds_per_step"]])

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
plot_histories(vae_table, "Pyro's VAE: ELBO vs IWAE (K = 5)", axes[0])
with torch.no_grad():  # the last estimator's decoder (iwae): a few draws from the model
    samples = vae.decoder(torch.randn(16, 10)).reshape(16, 28, 28)
axes[1].imshow(torch.cat([torch.cat(list(samples[i * 4 : i * 4 + 4]), 1) for i in range(4)], 0))
axes[1].set(title="samples (decoder means)", xticks=[], yticks=[])
save(fig, "vae_estimators")

# %% [markdown]
# ## 2. An autoguide with parameters per row, and minibatches
#
# `AutoNormal` on a model with local latents keeps one mean and scale per data point. With
# minibatches those parameters must follow their rows. The plate in the program below is sized by
# its data, `pyro.plate("data", len(x))`: given a minibatch, it would only ever see the batch's
# rows, so ppgen refuses before training, and says how to fix it:

# %%


def local_model(x):
    with pyro.plate("data", len(x)):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("obs", dist.Normal(z, 1.0), obs=x)


x_rows = torch.randn(300) * 2
try:
    ppgen.fit((local_model, AutoNormal(local_model)), x_rows, batch_size=32, steps=5)
except ProgramError as error:
    print("refused:", str(error)[:600], "...")

# %% [markdown]
# Pyro's idiom is to let the program subsample its own plate, `pyro.plate("data", len(x),
# subsample_size=32)` and `x[idx]`: the autoguide's parameters are then indexed by the same rows.
# ppgen passes all rows every step and hands the plate each step's rows from its own seeded order,
# every row once per epoch. The exact posterior of each
# $z_n$ is $N(x_n / 2, 1/2)$; the learned means land on it.

# %%


def subsampling_model(x):
    with pyro.plate("data", len(x), subsample_size=32) as idx:
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("obs", dist.Normal(z, 1.0), obs=x[idx])


pyro.set_rng_seed(0)
guide = AutoNormal(subsampling_model)
result = ppgen.fit((subsampling_model, guide), x_rows, steps=4 * STEPS, lr=0.05, progress=False)
means = guide.locs.z.detach()
print(f"largest error of the posterior means: {float((means - x_rows / 2).abs().max()):.3f}")
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.scatter(x_rows / 2, means, s=6)
ax.plot([-4, 4], [-4, 4], color="k", lw=0.8)
ax.set(xlabel="exact posterior mean x / 2", ylabel="AutoNormal mean", title="per-row guide")
save(fig, "autonormal_per_row")

# %% [markdown]
# ## 3. Pyro's deep Markov model on sequences of different lengths
#
# The DMM's model and guide take `(mini_batch, mini_batch_reversed, mask, lengths)`; a small
# wrapper builds the packed, reversed sequence its RNN reads, as the example's data loader does.
# The data are a tuple of tensors batched together: `(sequences, mask, lengths)`. The data plate is
# the example's `z_minibatch`; ppgen finds it, sees the `pyro.markov` chain, and sums each
# sequence's terms into its weight. Synthetic sequences: 4 binary notes that switch on and off as
# a sticky Markov chain.

# %%


def synthetic_sequences(count, max_length=12, notes=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(6, max_length + 1, (count,), generator=generator)
    state = (torch.rand(count, notes, generator=generator) > 0.5).float()
    steps = []
    for _ in range(max_length):
        flip = torch.rand(count, notes, generator=generator) < 0.15
        state = torch.where(flip, 1 - state, state)
        steps.append(state)
    mask = (torch.arange(max_length)[None, :] < lengths[:, None]).float()
    return torch.stack(steps, 1) * mask[..., None], mask, lengths


train_sequences = synthetic_sequences(40 if SMOKE else 400)
test_sequences = synthetic_sequences(10 if SMOKE else 100, seed=1)
torch.manual_seed(0)
dmm = pyro_examples.DMM(input_dim=4, z_dim=4, emission_dim=16, transition_dim=16, rnn_dim=16)
dmm_pair = pyro_examples.dmm_programs(dmm)
first = tuple(t[:5] for t in train_sequences)
info = inspect_program(*dmm_pair, first, {})
print("data plate:", info.data_plate, "| nesting:", info.nesting, "| local latents:",
      len(info.local_latents), "| global latents:", list(info.global_latents))  # fmt: skip
dmm_table = ppgen.compare(
    dmm_pair, train_sequences, ["trace", "iwae", "vimco"], num_particles=4, steps=STEPS,
    batch_size=20, lr=3e-3, test_data=test_sequences, eval_samples=EVAL_SAMPLES,
    grad_repeats=5, grad_batch=20, progress=False,
)  # fmt: skip
print(dmm_table[["estimator", "train_bound", "test_log_lik", "guide_snr", "seconds_per_step"]])
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
plot_histories(dmm_table, "Pyro's DMM: three estimators", axes[0])
per_sequence = log_likelihood(dmm_pair, test_sequences, num_samples=EVAL_SAMPLES)
axes[1].scatter(test_sequences[2], per_sequence, s=8)
axes[1].set(xlabel="sequence length", ylabel="log p(x) (importance sampled)",
            title="held-out sequences")  # fmt: skip
save(fig, "dmm_estimators")

# %% [markdown]
# `iwae` and `vimco` follow one trajectory here, by design: the DMM's guide is fully
# reparameterized, so VIMCO's leave-one-out score-function terms have nothing to act on and its
# gradient is the IWAE's; both are tighter than the ELBO (`trace`). Longer sequences have lower
# log-likelihoods: every step adds four notes to explain.

# %% [markdown]
# ## 4. Pyro's sparse gamma DEF: global latents
#
# The weights `w_top`, `w_mid`, `w_bottom` are global: shared by every data point. A per-point
# weight $p(x_n, z_n) / q(z_n)$ is then undefined, and ppgen gives the multi-sample bounds a
# stated meaning: the bound over the joint of the globals and the batch's locals (Pyro's
# `RenyiELBO(alpha=0)`). Pyro trains this example with `TraceMeanField_ELBO` (ppgen's `meanfield`);
# the guide's per-row parameters (`alpha_z_q_*`, one row per data point) mean full-batch training.
# Small sizes and synthetic counts keep it quick.

# %%
sgdef = pyro_examples.SparseGammaDEF()
sgdef.top_width, sgdef.mid_width, sgdef.bottom_width, sgdef.image_size = 4, 3, 2, 16
generator = torch.Generator().manual_seed(0)
true_rates = torch.rand(3, 16, generator=generator) * 4
counts = torch.poisson(
    true_rates[torch.randint(3, (60,), generator=generator)], generator=generator
)
try:
    ppgen.fit((sgdef.model, sgdef.guide), counts, batch_size=20, steps=5)
except ProgramError as error:
    print("refused:", str(error)[:300], "...")
pyro.set_rng_seed(0)
sgdef_table = ppgen.compare(
    (sgdef.model, sgdef.guide), counts, ["meanfield", "trace", "iwae"], num_particles=4,
    steps=2 * STEPS, batch_size=None, lr=0.01, grad_repeats=5, progress=False,
)  # fmt: skip
print(sgdef_table[["estimator", "train_bound", "test_log_lik_method", "seconds_per_step"]])
bound = joint_log_likelihood((sgdef.model, sgdef.guide), counts, num_samples=EVAL_SAMPLES)
print(f"joint log p(x_1..60) >= {float(bound):.1f} nats ({float(bound) / 60:.2f} per point)")

idata = to_inference_data((sgdef.model, sgdef.guide), counts, num_samples=EVAL_SAMPLES)
print({k: idata.attrs[k] for k in ("log_likelihood", "global_latents")})
print(arviz_stats.summary(idata, var_names=["w_top"], kind="stats").head())
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
plot_histories(sgdef_table, "sparse gamma DEF (global latents)", axes[0])
w_top = idata.posterior["w_top"].values[0]  # (draws, 12)
axes[1].boxplot(w_top, showfliers=False)
axes[1].set(xlabel="w_top entry", ylabel="posterior draws (guide)", title="a global latent")
save(fig, "sgdef_global_latents")
pd.set_option("display.width", 120)
