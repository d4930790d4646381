"""Benchmark: every registered flow on the 2-D toy densities, against the true density.

Each flow (``FlowDensity``, same budget for all: layers, hidden sizes, steps, batch, learning rate)
is fitted by maximum likelihood (``ppgen.fit``) to 10000 draws of each toy density and scored on
2000 held-out draws. Because the data sets know their density, the gap
``E[log p_true(x)] - E[log p_flow(x)]`` over the held-out points estimates ``KL(p_true || p_flow)``
(always >= 0 in expectation); the target is a gap below 0.05 nats. Its standard error is the
standard deviation of the per-point differences over sqrt(2000).

Run:  python benchmarks/flows_toy2d.py [--steps 5000] [--seed 0] [--flows ...] [--datasets ...]
Writes benchmarks/results/flows_toy2d.{csv,md,png}.
"""

from __future__ import annotations

import argparse
import math
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
from ppgen.models import FlowDensity  # noqa: E402
from ppgen.models.flows import available_flows  # noqa: E402
from ppgen.plots import density_grid  # noqa: E402

DATASETS = ["moons", "8gaussians", "ring8", "grid25"]
NUM_LAYERS, HIDDEN, COUNT_BINS = 6, [64, 64], 16
TARGET_GAP = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--flows", nargs="+", default=sorted(available_flows()))
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--out", default=Path(__file__).parent / "results", type=Path)
    args = parser.parse_args()

    rows, fitted = [], {}
    for name in args.datasets:
        data = ppgen.load_dataset(name, seed=args.seed)
        for flow in args.flows:
            torch.manual_seed(args.seed)
            options = {"count_bins": COUNT_BINS} if flow.startswith("nsf") else {}
            model = FlowDensity(2, flow, NUM_LAYERS, HIDDEN, **options).init_from_data(data.train)
            start = time.perf_counter()
            ppgen.fit(
                model,
                data,
                steps=args.steps,
                lr=args.lr,
                batch_size=args.batch_size,
                seed=args.seed,
                progress=False,
                device="cpu",
            )
            seconds = time.perf_counter() - start
            with torch.no_grad():
                difference = data.log_density(data.test) - model.log_prob(data.test)
                model_ll = float(model.log_prob(data.test).mean())
            gap = float(difference.mean())
            rows.append(
                {
                    "data": name,
                    "flow": flow,
                    "test log p, flow": model_ll,
                    "test log p, true": float(data.log_density(data.test).mean()),
                    "gap (nats)": gap,
                    "gap s.e.": float(difference.std() / math.sqrt(len(difference))),
                    "within 0.05": gap < TARGET_GAP,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "fit seconds": seconds,
                }
            )
            fitted[name, flow] = model
            print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    table = pd.DataFrame(rows)

    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "flows_toy2d.csv", index=False)
    best = table.loc[table.groupby("data", sort=False)["gap (nats)"].idxmin()]
    text = [
        "# Normalizing flows on 2-D toy densities, against the true density",
        "",
        f"Command: `python benchmarks/flows_toy2d.py --steps {args.steps} --seed {args.seed}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), pyro {pyro.__version__}.",
        "",
        f"Every flow: {NUM_LAYERS} layers, conditioner networks {HIDDEN}, spline flows "
        f"{COUNT_BINS} bins; maximum likelihood by `ppgen.fit`, {args.steps} steps, batch "
        f"{args.batch_size}, Adam lr {args.lr} with cosine decay; 10000 training and 2000 held-out "
        "points. `gap` = mean over held-out points of log p_true(x) - log p_flow(x), an estimate "
        f"of KL(p_true || p_flow) in nats; target {TARGET_GAP}.",
        "",
        "## Closest flow per data set",
        "",
        best[["data", "flow", "gap (nats)", "gap s.e.", "within 0.05"]].to_markdown(
            index=False, floatfmt=".4f"
        ),
        "",
        "## Every run",
        "",
        table.to_markdown(index=False, floatfmt=".4f"),
        "",
        "![densities](flows_toy2d.png)",
        "",
    ]
    (args.out / "flows_toy2d.md").write_text("\n".join(text))
    _figure(args, fitted).savefig(args.out / "flows_toy2d.png", dpi=90)


def _figure(args, fitted):
    """Rows: data sets; columns: the true density, then each flow's."""
    fig, axes = plt.subplots(
        len(args.datasets),
        1 + len(args.flows),
        figsize=(2.2 * (1 + len(args.flows)), 2.2 * len(args.datasets)),
        layout="constrained",
        squeeze=False,
    )
    for row, name in zip(axes, args.datasets):
        data = ppgen.load_dataset(name, seed=args.seed)
        xs, ys, grid = density_grid(data.test, size=150)
        grid = torch.as_tensor(grid, dtype=torch.float32)
        densities = {"true": data.log_density}
        densities.update({flow: fitted[name, flow].log_prob for flow in args.flows})
        for ax, (title, log_density) in zip(row, densities.items()):
            # A badly fitted affine flow can send grid points far from the data to inf in its
            # base space (log-density -inf or NaN there): their density is 0.
            with torch.no_grad():
                image = log_density(grid).exp().nan_to_num(0.0).reshape(150, 150).numpy()
            ax.imshow(image, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), cmap="magma")
            ax.set_title(f"{name}: {title}", fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
    return fig


if __name__ == "__main__":
    main()
