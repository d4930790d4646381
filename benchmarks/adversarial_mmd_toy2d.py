"""Benchmark: mode coverage of an MMD-trained generator (GMMN) and a GAN on the ring of 8 and the
grid of 25 Gaussians, over seeds.

Each run trains the same ``Generator`` (same architecture, steps, batch size, learning rate) with
``ppgen.fit``, by ``loss="mmd"`` or ``loss="gan"`` (non-saturating, one discriminator step per
generator step), and scores 2500 samples with ``ppgen.evaluation.mode_coverage``: a sample is high
quality when its nearest mode is within 3 standard deviations; a mode is captured when it is the
nearest mode of at least one high-quality sample. Also recorded: the unbiased MMD^2 of 1000 samples
against 1000 test points with its permutation p-value, the kernel-density log-likelihood of the
test points, and mode coverage over training (every ``--every`` steps).

Targets (issue 5): the MMD generator captures all 8 ring modes and at least 24 of 25 grid modes.

Run:  python benchmarks/adversarial_mmd_toy2d.py [--steps 5000] [--seeds 0 1 2]
      [--datasets ring8 grid25] [--methods gmmn gan]
Data sets can run as separate processes (OMP_NUM_THREADS=1 each, different --out) and be
combined with --merge A.csv B.csv.
Writes benchmarks/results/adversarial_mmd_toy2d.{csv,md} and adversarial_mmd_<dataset>.png.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pyro  # noqa: E402
import torch  # noqa: E402

import ppgen  # noqa: E402
from ppgen.evaluation import kde_log_likelihood, mmd_test, mode_coverage  # noqa: E402
from ppgen.models import Generator  # noqa: E402

LOSSES = {"gmmn": "mmd", "gan": "gan"}
LATENT_DIM, HIDDEN = 2, (400, 400, 400)
NUM_SAMPLES = 2500
TARGETS = {"ring8": 8, "grid25": 24}


def train(dataset, method, seed, args):
    torch.manual_seed(seed)
    generator = Generator(2, latent_dim=LATENT_DIM, hidden_dims=HIDDEN)
    centers, std = dataset.meta["centers"], dataset.meta["std"]

    def coverage(step, model):
        result = mode_coverage(model.sample(NUM_SAMPLES), centers, std)
        return {"modes": result["modes_captured"], "hq": result["high_quality_fraction"]}

    start = time.perf_counter()
    result = ppgen.fit(
        generator,
        dataset,
        loss=LOSSES[method],
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=seed,
        progress=False,
        log_every=args.every,
        callback=coverage,
    )
    seconds = time.perf_counter() - start
    pyro.set_rng_seed(seed)
    samples = generator.sample(NUM_SAMPLES)
    final = mode_coverage(samples, centers, std)
    test = mmd_test(samples[:1000], dataset.test[:1000], num_permutations=200, seed=seed)
    row = {
        "dataset": dataset.name,
        "method": method,
        "seed": seed,
        "modes_captured": final["modes_captured"],
        "num_modes": final["num_modes"],
        "high_quality_fraction": final["high_quality_fraction"],
        "kl_from_uniform": final["kl_from_uniform"],
        "mmd2_test": test.statistic,
        "mmd_p_value": test.p_value,
        "kde_log_lik": float(kde_log_likelihood(samples, dataset.test, bandwidth=std).mean()),
        "seconds": seconds,
    }
    return row, samples, result.history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(TARGETS))
    parser.add_argument("--methods", nargs="+", default=list(LOSSES))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--every", type=int, default=250, help="mode coverage every N steps")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--merge", type=Path, nargs="*", default=[], help="add these runs' CSVs, then summarize"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.merge:  # combine data sets run as separate processes into one table
        table = pd.concat([pd.read_csv(path) for path in args.merge])
        table.to_csv(args.out / "adversarial_mmd_toy2d.csv", index=False)
        _summary(args, table)
        return

    rows = []
    for name in args.datasets:
        dataset = ppgen.load_dataset(name)
        shown, curves = {}, {}
        for method in args.methods:
            for seed in args.seeds:
                row, samples, history = train(dataset, method, seed, args)
                print(row, flush=True)
                rows.append(row)
                curves[method, seed] = history[["step", "modes", "hq"]]
                if seed == args.seeds[0]:
                    shown[method] = samples
        _figure(args, name, dataset, shown, curves)

    table = pd.DataFrame(rows)
    table.to_csv(args.out / "adversarial_mmd_toy2d.csv", index=False)
    _summary(args, table)


def _summary(args, table):
    grouped = table.groupby(["dataset", "method"], sort=False)
    summary = grouped.agg(
        seeds=("seed", "count"),
        modes_min=("modes_captured", "min"),
        modes_mean=("modes_captured", "mean"),
        num_modes=("num_modes", "first"),
        high_quality=("high_quality_fraction", "mean"),
        kl_from_uniform=("kl_from_uniform", "mean"),
        mmd2_test=("mmd2_test", "mean"),
        kde_log_lik=("kde_log_lik", "mean"),
        seconds=("seconds", "mean"),
    ).reset_index()
    text = [
        "# GMMN and GAN on the ring of 8 and the grid of 25 Gaussians",
        "",
        f"Command: `python benchmarks/adversarial_mmd_toy2d.py --steps {args.steps} "
        f"--seeds {' '.join(map(str, args.seeds))}` (data sets may run as separate processes).",
        f"Generator: latent dim {LATENT_DIM}, MLP {list(HIDDEN)}; {args.steps} generator steps, "
        f"batch {args.batch_size}, Adam lr {args.lr}, cosine schedule; GAN: one discriminator "
        "step (MLP [256, 256, 256]) per generator step, Adam betas (0.5, 0.9) for both players.",
        f"Scored on {NUM_SAMPLES} samples; high quality = nearest mode within 3 std.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), pyro {pyro.__version__}.",
        "",
        "## Summary over seeds (means unless marked min)",
        "",
        summary.to_markdown(index=False, floatfmt=".3g"),
        "",
        "## Every run",
        "",
        table.to_markdown(index=False, floatfmt=".3g"),
        "",
    ]
    for name, target in TARGETS.items():
        runs = table[(table["dataset"] == name) & (table["method"] == "gmmn")]
        if len(runs):
            met = "yes" if (runs["modes_captured"] >= target).all() else "no"
            text.append(
                f"- GMMN on {name}: at least {target} modes on every seed: **{met}** "
                f"(min {runs['modes_captured'].min()})."
            )
    (args.out / "adversarial_mmd_toy2d.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))


def _figure(args, name, dataset, shown, curves):
    methods = list(shown)
    fig, axes = plt.subplots(
        1, len(methods) + 1, figsize=(4 * (len(methods) + 1), 4), layout="constrained"
    )
    data = dataset.test.numpy()
    for ax, method in zip(axes, methods):
        samples = shown[method].numpy()
        ax.scatter(data[:, 0], data[:, 1], s=2, alpha=0.3, label="data")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.3, label=f"{method} samples")
        ax.set(title=f"{method} (seed {args.seeds[0]})", aspect="equal")
        ax.set_xlim(data[:, 0].min() - 1, data[:, 0].max() + 1)
        ax.set_ylim(data[:, 1].min() - 1, data[:, 1].max() + 1)
        ax.legend(markerscale=5, fontsize="small", loc="upper right")
    for (method, seed), curve in curves.items():
        style = "-" if method == "gmmn" else "--"
        axes[-1].plot(curve["step"], curve["modes"], style, label=f"{method} seed {seed}")
    axes[-1].set(xlabel="generator step", ylabel="modes captured", title="mode coverage")
    axes[-1].legend(fontsize="small")
    fig.savefig(args.out / f"adversarial_mmd_{name}.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
