# %% [markdown]
# # Tutorial 7: speed -- the compiled training step, memory, and the GPU
#
# A Pyro training step does two kinds of work. The **tensor maths** (the networks, the
# log-densities, the backward pass) is what a hand-written PyTorch loop does too. The
# **bookkeeping** is Pyro's own: effect handlers intercept every `pyro.sample`, distribution
# objects are built, a trace of the model and one of the guide are recorded, site shapes are
# checked. For big networks the bookkeeping is noise; for the small models of this toolkit
# (a 64-pixel VAE, a one-layer SBN) it cost as much as the maths: an eager ppgen step on a
# digits VAE took about 1.3-1.5x a hand-written loop on one CPU thread.
#
# `ppgen.fit` therefore runs the step **compiled** by default (`compile="auto"`): the objective
# is recorded once per batch shape with `torch.jit.trace`, which keeps the tensor operations
# (random draws included, so each call draws fresh noise) and drops the Python around them.
# Before a trace is used it is **checked**: from the same random state, the eager and the traced
# objective must give the same loss and the same gradient for every parameter. A trace that
# fails or differs is dropped with a warning and that shape runs eagerly.
#
# A trace freezes Python control flow, so `"auto"` compiles only what it can replay exactly:
# ppgen's models (which declare `traceable = True`) with estimators that keep no state between
# steps. This tutorial measures the gain, checks that a compiled run follows the eager run draw
# for draw, and shows how memory scales with the number of importance samples.
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
import torch

import ppgen
from ppgen.evaluation import log_likelihood
from ppgen.models import VAE, SigmoidBeliefNet

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
# Figures for the docs go to docs/figures/ (run from the repository's root); a smoke run
# writes them to a temporary folder, never over the committed ones.
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/07_speed")
)  # fmt: skip
FIGURES.mkdir(parents=True, exist_ok=True)
RESULTS = Path("benchmarks/results")
STEPS = 40 if SMOKE else 400
torch.set_num_threads(1)  # the benchmark's setting: per-step overhead shows most on one thread


def save(fig, name):
    fig.tight_layout()
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


data = ppgen.load_dataset("digits", binarize="threshold")

# %% [markdown]
# ## 1. Eager against compiled, per estimator
#
# `fit` records `wall_time`, the seconds spent in training steps, in every history row. The
# difference between the last and the first row, over the steps between them, is the time per
# step without set-up and without the first step (where the trace is recorded and checked).


# %%
def step_ms(model_factory, estimator, particles, compile):
    torch.manual_seed(0)
    result = ppgen.fit(
        model_factory(),
        data,
        estimator=estimator,
        num_particles=particles,
        steps=STEPS,
        batch_size=128,
        log_every=20,
        progress=False,
        compile=compile,
    )
    wall = result.history["wall_time"]
    return 1000 * float(wall.iloc[-1] - wall.iloc[0]) / (STEPS - 20), result.compiled


def vae():
    return VAE(64, latent_dim=10, hidden_dims=(200, 200)).init_from_data(data.train)


def sbn():
    return SigmoidBeliefNet(64, [200])


rows = []
for label, factory, estimator, particles in [
    ("VAE trace", vae, "trace", 1),
    ("VAE iwae K=5", vae, "iwae", 5),
    ("SBN tracegraph", sbn, "tracegraph", 1),
    ("SBN vimco K=5", sbn, "vimco", 5),
]:
    eager, _ = step_ms(factory, estimator, particles, False)
    compiled, was_compiled = step_ms(factory, estimator, particles, "auto")
    rows.append(
        {"step": label, "eager ms": eager, "compiled ms": compiled, "compiled?": was_compiled}
    )
timings = pd.DataFrame(rows)
print(timings.to_string(index=False, float_format="%.2f"))

fig, ax = plt.subplots(figsize=(6.5, 3.2))
positions = range(len(timings))
ax.barh([p + 0.2 for p in positions], timings["eager ms"], height=0.4, label="eager")
ax.barh([p - 0.2 for p in positions], timings["compiled ms"], height=0.4, label="compiled")
ax.set_yticks(list(positions), timings["step"])
ax.invert_yaxis()
ax.set_xlabel("milliseconds per training step (1 CPU thread, batch 128)")
ax.legend()
save(fig, "eager_vs_compiled")

# %% [markdown]
# The interleaved, repeated measurement against a hand-written PyTorch loop is
# `benchmarks/speed_vs_pytorch.py`; its recorded results (one run on this kind of machine, see
# the file for the exact numbers) are plotted below when present.

# %%
recorded = RESULTS / "speed_vs_pytorch.csv"
if recorded.exists():
    table = pd.read_csv(recorded)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    y = range(len(table))
    ax.barh([p + 0.2 for p in y], table["eager ratio"], height=0.4, label="ppgen eager")
    ax.barh([p - 0.2 for p in y], table["ratio"], height=0.4, label="ppgen (compiled)")
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks(list(y), table["configuration"])
    ax.invert_yaxis()
    ax.set_xlabel("time per step / hand-written PyTorch (median of interleaved runs)")
    ax.legend(loc="lower right")
    save(fig, "ratio_to_hand_written")

# %% [markdown]
# ## 2. A compiled run follows the eager run
#
# Tracing and checking fork the random state, so the compiled run draws exactly the random
# numbers the eager run draws. The two loss curves coincide up to float32 rounding: the only
# difference is the order of a few sums.

# %%
curves = {}
for compile in (False, "auto"):
    torch.manual_seed(0)
    result = ppgen.fit(
        vae(),
        data,
        estimator="iwae",
        num_particles=5,
        steps=STEPS,
        log_every=1,
        progress=False,
        compile=compile,
    )
    curves["compiled" if compile else "eager"] = result.history["loss"].to_numpy()
gap = abs(curves["compiled"] - curves["eager"]) / abs(curves["eager"])
print(f"largest relative difference of the logged losses over {STEPS} steps: {gap.max():.2e}")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].plot(curves["eager"], lw=3, alpha=0.5, label="eager")
axes[0].plot(curves["compiled"], lw=1, label="compiled")
axes[0].set(xlabel="step", ylabel="negative IWAE bound (K = 5), per point")
axes[0].legend()
axes[1].semilogy(gap + 1e-12)
axes[1].set(xlabel="step", ylabel="relative difference")
save(fig, "compiled_follows_eager")

# %% [markdown]
# ## 3. Memory: chunks of samples and of points
#
# The test log-likelihood is the importance-sampled estimate with k = 5000 samples per point
# (Burda et al. 2016). Drawing them all at once for 447 test digits would be 2.2 million
# network evaluations in one pass. `log_likelihood` splits the work into `chunk_size` samples
# for `batch_size` points at a time and combines the chunks' log-sum-exps exactly, so the
# answer does not depend on the split and memory follows `chunk_size * batch_size` only.

# %%
torch.manual_seed(0)
model = vae()
test = data.test[: 20 if SMOKE else 447]
samples = 200 if SMOKE else 5000
estimates = {}
for chunk_size, batch_size in [(samples, None), (100, 50)]:
    torch.manual_seed(1)
    estimates[(chunk_size, batch_size)] = log_likelihood(
        model, test, samples, chunk_size=chunk_size, batch_size=batch_size
    )
one_pass, chunked = estimates.values()
print(
    f"mean log p(x), one pass: {one_pass.mean():.3f}; chunked (100 samples x 50 points): "
    f"{chunked.mean():.3f} (different draws, same estimator)"
)

recorded = RESULTS / "memory_scaling.csv"
if recorded.exists():
    table = pd.read_csv(recorded)
    log_lik = table[table["table"] == "log_likelihood"]
    iwae = table[table["table"] == "iwae_step"]
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4))
    axes[0].loglog(log_lik["pairs per pass"], log_lik["peak MiB"], "o")
    axes[0].set(
        xlabel="(sample, point) pairs per pass",
        ylabel="peak memory (MiB)",
        title="log_likelihood, k = 5000",
    )
    for particles, group in iwae.groupby("K"):
        axes[1].loglog(group["batch"] * particles, group["ms/step"], "o-", label=f"K = {particles}")
    axes[1].set(xlabel="batch x K", ylabel="ms per IWAE step", title="IWAE training step")
    axes[1].legend()
    save(fig, "memory_scaling")

# %% [markdown]
# ## 4. The GPU
#
# Nothing in ppgen is tied to the CPU: `fit(..., device="auto")` moves model and data to CUDA
# when it is there, keeps the data on the device, and reads losses back to the host only on log
# steps (one sync per `log_every` steps). The compiled step is traced with CUDA random draws
# and checked there like on the CPU. The GPU tests (`pytest -m gpu`) and the benchmarks run
# unchanged with `--device cuda`:
#
# ```
# python benchmarks/speed_vs_pytorch.py --device cuda
# python benchmarks/memory_scaling.py --device cuda
# ```
