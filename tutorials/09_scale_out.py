# %% [markdown]
# # Tutorial 9: scaling out -- several processes, and data larger than memory
#
# `ppgen.fit` trains data-parallel on PyTorch's own engine, `torch.distributed`: the processes
# are started by `torchrun` or by `fit(..., devices=N)` (PyTorch's launcher, run for you), they
# meet through gloo on CPUs or NCCL on GPUs, and gradients travel by `all_reduce`. ppgen adds
# what Pyro programs need on top:
#
# * **every trainable tensor is averaged**, whatever created it: `pyro.param` values, an
#   autoguide's parameters made on its first call, NVIL's baseline network, a GAN's
#   discriminator with its own optimizer. (PyTorch's `DistributedDataParallel` syncs only the
#   registered parameters of the one module it wraps, and refuses steps where some of them get
#   no gradient -- RWS's phases, a baseline, a GAN's players do that every step);
# * **one global batch per step**: every rank computes the same seeded order and takes its own
#   contiguous part of each global batch of `N x batch_size` rows, so each row is used once per
#   epoch across ranks, and the union of a step's parts is the batch one process would take;
# * **the loss is weighted** by each rank's share of the batch, so the ranks' gradients add up
#   to the gradient of one process on the whole global batch;
# * **identical starts, different noise**: rank 0's parameters are broadcast after the first
#   (lazily initialising) call; each rank draws its own noise, seeded from `seed` and its rank;
# * **one writer**: rank 0 writes checkpoints (holding every rank's random state, so that a
#   resumed run is bit-identical), logs and the progress bar; every rank holds the same history.
#
# Because Python's multiprocessing imports this script again in every process it starts, the
# work below sits under `if __name__ == "__main__":` -- as it must in your own scripts. Run it
# as a script: `python tutorials/09_scale_out.py` (`PPGEN_SMOKE=1` for tiny budgets). It needs
# two CPU cores and no GPU.

# %%
import os
import shutil
import sys
import tempfile
import time
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
from torch.utils.data import DataLoader

import ppgen
from ppgen.data import NpyRows
from ppgen.models import PPCA, VAE
from ppgen.training.distributed import current_ranks, launch

SMOKE = os.environ.get("PPGEN_SMOKE") == "1"
FIGURES = Path(
    os.environ.get("PPGEN_FIGURES")
    or (tempfile.mkdtemp(prefix="ppgen-smoke-") if SMOKE
        else "docs/figures/09_scale_out")
)  # fmt: skip
STEPS = 30 if SMOKE else 600
RESULTS = Path("benchmarks/results")


def save(fig, name):
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(FIGURES / f"{name}.png", dpi=110)
    plt.close(fig)


# %% [markdown]
# ## 1. Two processes follow one process step for step
#
# The claim "2 ranks x B rows estimate the same objective as 1 process x 2B rows" can be checked
# exactly. In normal training the two runs draw different noise, so they agree only in
# distribution. `distributed_noise="global_batch"` is a test mode: every rank draws the noise of
# the whole global batch and keeps its own rows, as the one process draws it. Then the
# parameters must agree to float rounding (the batch is summed in two halves) after every step.


# %%
def ppca_run(processes: int, batch: int, mode: str = "per_rank") -> tuple[PPCA, pd.DataFrame]:
    digits = ppgen.load_dataset("digits")
    torch.manual_seed(0)
    model = PPCA(64, 5).init_from_data(digits.train)
    result = ppgen.fit(
        model, digits.train, steps=STEPS, batch_size=batch, lr=0.01, compile=False,
        progress=False, distributed_noise=mode, devices=processes, log_every=5,
    )  # fmt: skip
    return model, result.history


if __name__ == "__main__":
    one, one_history = ppca_run(1, 128, "global_batch")
    start = time.perf_counter()
    two, two_history = ppca_run(2, 64, "global_batch")  # fit(devices=2): 2 processes
    print(f"fit(devices=2) took {time.perf_counter() - start:.1f} s, start-up included")
    gaps = {
        name: float((value - two.state_dict()[name]).abs().max())
        for name, value in one.state_dict().items()
    }
    print(pd.Series(gaps, name="max |1 process - 2 processes|").to_string())
    assert max(gaps.values()) < 1e-4

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(one_history["step"], one_history["loss"], lw=3, alpha=0.4, label="1 process, batch 128")
    ax.plot(two_history["step"], two_history["loss"], "k--", lw=1, label="2 processes, 64 each")
    ax.set(xlabel="step", ylabel="loss per point", title="PPCA, global-batch noise")
    ax.legend()
    save(fig, "exact_equivalence")

# %% [markdown]
# ## 2. Normal mode: a VAE on two processes learns what one process learns
#
# With each rank drawing its own noise, a 2-process run and a 1-process run with twice the batch
# are two draws of the same procedure, from the same initial weights and the same order of rows:
# their loss curves differ only by the noise. Whether what they learn differs is a statistical
# question, answered over several seeds by `benchmarks/distributed_throughput.py` (plotted below
# where its results are present): the difference between 1 and 2 processes for the same seed is
# within the spread between seeds.


# %%
def vae_run(processes: int, batch: int, seed: int):
    data = ppgen.load_dataset("digits", binarize="threshold")
    torch.manual_seed(seed)
    model = VAE(64, 10, hidden_dims=(200, 200))
    result = ppgen.fit(
        model, data.train, steps=STEPS, batch_size=batch, lr=3e-3, seed=seed, progress=False,
        devices=processes,
    )  # fmt: skip
    return result.history


if __name__ == "__main__":
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    runs = {"1 process, batch 256": vae_run(1, 256, 0)}
    if not SMOKE:  # smoke runs launch processes once, in section 1 (start-up costs seconds)
        runs["2 processes, batch 128 each"] = vae_run(2, 128, 0)
    for label, history in runs.items():
        axes[0].plot(history["step"], history["loss"], label=label, lw=1)
    axes[0].set(xlabel="step", ylabel="-ELBO per point", title="VAE on binarized digits, seed 0")
    axes[0].legend(fontsize=8)
    if (RESULTS / "distributed_throughput.csv").exists():
        runs = pd.read_csv(RESULTS / "distributed_throughput.csv").query("model == 'vae'")
        by_seed = runs.pivot(index="seed", columns="processes", values="test_log_lik")
        print(by_seed.round(3).to_string())
        print("sd over seeds:", by_seed.std().round(3).to_dict())
        for processes, marker in zip(by_seed.columns, "os"):
            axes[1].plot(
                by_seed.index, by_seed[processes], marker, label=f"{processes} process(es)"
            )
        axes[1].set(xlabel="seed", ylabel="test log p(x), k = 1000", title="benchmark, 2000 steps")
        axes[1].legend(fontsize=8)
    save(fig, "vae_one_and_two_processes")

# %% [markdown]
# ## 3. Your own Pyro program, on every rank
#
# Nothing above is specific to ppgen's models. Here is a plain pair with a global latent, a
# `pyro.param` guide and a plate named as its author liked, trained on two ranks by `launch`
# (which runs any module-level function on N processes and returns every rank's result). Both
# ranks end with the same values, close to the conjugate posterior (the mean to a few
# thousandths; the scale, whose SVI gradient is noisy, within tens of percent).


# %%
def model(x):
    loc = pyro.sample("loc", dist.Normal(0.0, 10.0))
    with pyro.plate("measurements", x.shape[0]):
        pyro.sample("x", dist.Normal(loc, 1.0), obs=x)


def guide(x):
    mean = pyro.param("mean", torch.tensor(0.0))
    sd = pyro.param("sd", torch.tensor(1.0), constraint=dist.constraints.positive)
    pyro.sample("loc", dist.Normal(mean, sd))


def train_on_this_rank(x):
    result = ppgen.fit(
        (model, guide), x, steps=4 * STEPS, batch_size=250, lr=0.05, num_particles=8,
        progress=False,
    )  # fmt: skip
    return current_ranks().rank, {k: float(v) for k, v in result.params.items()}


if __name__ == "__main__":
    x = 3.0 + torch.randn(1000, generator=torch.Generator().manual_seed(0))
    if SMOKE:  # smoke runs launch once, in section 1 (process start-up costs seconds)
        (rank0, params0), (rank1, params1) = [train_on_this_rank(x)] * 2
    else:
        (rank0, params0), (rank1, params1) = launch(train_on_this_rank, 2, x)
    assert params0 == params1
    exact_sd = (1 / (1 / 100 + len(x))) ** 0.5
    exact_mean = exact_sd**2 * float(x.sum())
    print(
        f"rank 0 and rank 1: {params0}; exact posterior: mean {exact_mean:.4f}, sd {exact_sd:.4f}"
    )

# %% [markdown]
# ## 4. Data larger than memory
#
# `fit` also reads from a `DataLoader` over a map-style `Dataset` (not a `TensorDataset`, which
# is in memory already): the loader brings its workers, `collate_fn`, pinned memory and
# prefetching, ppgen keeps its own seeded order (so runs stay reproducible, resumable and
# data-parallel) and checks every batch as it arrives. `NpyRows` serves the rows of a `.npy`
# file a batch at a time with positioned reads: the page cache holds the file, not the process.
# Below, a file is written, scanned for NaN before training, and streamed; the result is
# bit-identical to training on the same rows as a tensor.


# %%
if __name__ == "__main__":
    folder = Path(tempfile.mkdtemp(prefix="ppgen-rows-"))
    digits = ppgen.load_dataset("digits")
    np.save(folder / "digits.npy", digits.train.numpy())
    rows = NpyRows(folder / "digits.npy")
    print(rows)
    options = dict(steps=STEPS, batch_size=100, lr=0.01, compile=False, progress=False)
    torch.manual_seed(0)
    streamed = PPCA(64, 5).init_from_data(digits.train)
    torch.manual_seed(0)
    in_memory = PPCA(64, 5).init_from_data(digits.train)
    ppgen.fit(streamed, DataLoader(rows, batch_size=100, num_workers=2), **options)
    ppgen.fit(in_memory, digits.train, **options)
    same = all(torch.equal(v, streamed.state_dict()[k]) for k, v in in_memory.state_dict().items())
    print("streamed == in memory, bit for bit:", same)
    assert same
    shutil.rmtree(folder)  # the file was only for this section
    if (RESULTS / "streaming_memory.csv").exists():
        memory = pd.read_csv(RESULTS / "streaming_memory.csv")
        print(memory[["budget_mib", "file_mib", "peak_rss_mib", "train_s"]].to_string(index=False))
        fig, ax = plt.subplots(figsize=(5, 3))
        bars = memory.iloc[0][["budget_mib", "file_mib", "peak_rss_mib"]]
        ax.bar(
            ["memory budget", "file", "peak RSS\nwhile training"], bars, color=["C2", "C7", "C0"]
        )
        ax.set(ylabel="MiB", title="One epoch streamed from a file 10x the budget")
        save(fig, "streaming_memory")

# %% [markdown]
# ## 5. On a cluster, and what is not synchronised
#
# `torchrun --nproc-per-node 2 -m ppgen fit vae --data digits --batch-size 128 --out runs/vae2`
# runs the command line on two processes (one GPU each where there are GPUs); with `--nnodes`,
# `--rdzv-endpoint` (or SLURM's `srun torchrun ...`) the same command spans several machines.
# In your own script, `fit` joins whatever process group the launcher set up; `batch_size` is
# per process. `log_likelihood` and `elbo` are then collective: every rank calls them with the
# same data, each scores its share of the points, and every rank gets all of them, in order.
#
# Not synchronised: module *buffers* (BatchNorm's running statistics stay per rank), running
# statistics of an estimator (NVIL's centering, the decaying baseline: each rank's own, from its
# own data), and anything your program keeps outside Pyro's parameter store and its modules.
#
# How fast? On this 2-core laptop-class machine, two processes share the two cores that one
# process uses on its own, so the speed-up measures the cost of synchronising rather than extra
# hardware (`benchmarks/results/distributed_throughput.md`):

# %%
if __name__ == "__main__" and (RESULTS / "distributed_throughput.csv").exists():
    speed = pd.read_csv(RESULTS / "distributed_throughput.csv")
    table = speed.groupby(["model", "processes"])["points_per_s"].median().unstack()
    print(table.round(0).to_string())
    fig, ax = plt.subplots(figsize=(5, 3))
    table.plot.bar(ax=ax, rot=0)
    ax.set(ylabel="points / s", title="Throughput, 1 against 2 processes (2 CPU cores)")
    save(fig, "throughput")
