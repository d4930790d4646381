"""Benchmark: data-parallel throughput, 1 process against N, and what the N-process run learns.

Issue 16's scale-out item. For the digits VAE (MLP 64-200-200-10, Bernoulli pixels, threshold-
binarized) and a RealNVP flow on ``moons``:

- **throughput**: points per second of training (global batch x steps / training wall time,
  which excludes start-up), for one process with batch ``N x B`` and N processes with batch
  ``B`` each (``fit(devices=N)``: gloo on CPU, NCCL on CUDA);
- **what is learned**: the VAE's held-out log-likelihood (importance sampled, k = 1000) after the
  same number of steps, per seed, in normal mode (each rank its own noise), so that the
  difference between 1 and N processes can be set against the seed-to-seed spread.

On a CPU machine the N processes share its cores with each other (1 thread each, as torchrun
sets), where the one process has them all (``--threads``): the speed-up measures the overhead of
synchronising, not extra hardware. On a CUDA machine each process has its own GPU.

Run:  python benchmarks/distributed_throughput.py [--processes 2] [--seeds 0 1 2] [--steps 1000]
Writes benchmarks/results/distributed_throughput[_cuda].{csv,md}.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import pandas as pd
import torch

import ppgen
from ppgen.evaluation import log_likelihood
from ppgen.models import VAE, FlowDensity

RESULTS = Path(__file__).parent / "results"


def build(kind: str, seed: int):
    torch.manual_seed(seed)
    if kind == "vae":
        data = ppgen.load_dataset("digits", binarize="threshold")
        return VAE(64, 10, hidden_dims=(200, 200)), data
    return FlowDensity(2, num_layers=4), ppgen.load_dataset("moons")


def run(kind: str, seed: int, processes: int, batch: int, steps: int, device: str) -> dict:
    model, data = build(kind, seed)
    start = time.perf_counter()
    result = ppgen.fit(
        model,
        data.train,
        steps=steps,
        batch_size=batch,
        lr=3e-3,
        seed=seed,
        device=device,
        progress=False,
        devices=processes if processes > 1 else None,
    )
    total = time.perf_counter() - start
    train_time = float(result.history["wall_time"].iloc[-1])
    row = {
        "model": kind,
        "processes": processes,
        "batch_per_process": batch,
        "global_batch": batch * processes,
        "seed": seed,
        "steps": steps,
        "train_s": train_time,
        "total_s": total,
        "points_per_s": steps * batch * processes / train_time,
    }
    if kind == "vae":
        torch.manual_seed(1000 + seed)
        test = data.test.to(result.device)
        row["test_log_lik"] = float(log_likelihood(model, test, num_samples=1000).mean())
    return row


def describe(device: str, threads: int, processes: int) -> str:
    if device == "cuda":
        names = {torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())}
        return f"{torch.cuda.device_count()} x {', '.join(names)}, torch {torch.__version__}"
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"(1 process: {threads} threads; N processes: {max(1, (os.cpu_count() or 1) // processes)} "
        "thread(s) each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128, help="rows per process per step")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for kind in ("vae", "flow"):
        for seed in args.seeds if kind == "vae" else args.seeds[:1]:
            one = run(kind, seed, 1, args.batch * args.processes, args.steps, args.device)
            many = run(kind, seed, args.processes, args.batch, args.steps, args.device)
            rows += [one, many]
            print(pd.DataFrame([one, many]).round(3).to_string(index=False), flush=True)
    frame = pd.DataFrame(rows)
    suffix = "_cuda" if args.device == "cuda" else ""
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(RESULTS / f"distributed_throughput{suffix}.csv", index=False)
    speed = frame.groupby(["model", "processes"])["points_per_s"].median().unstack()
    speed["speed-up"] = speed[args.processes] / speed[1]
    lines = [
        f"# Data-parallel throughput: 1 process against {args.processes} ({args.device})",
        "",
        f"Command: `python benchmarks/distributed_throughput.py --processes {args.processes} "
        f"--seeds {' '.join(map(str, args.seeds))} --steps {args.steps} --batch {args.batch} "
        f"--device {args.device}`",
        f"Machine: {describe(args.device, args.threads, args.processes)}, "
        f"Python {platform.python_version()}.",
        f"Global batch {args.batch * args.processes} in both cases: one process with batch "
        f"{args.batch * args.processes}, or {args.processes} processes with {args.batch} each.",
        "",
        "## Median points per second of training (start-up excluded)",
        "",
        speed.round(2).to_markdown(),
        "",
        "## Every run",
        "",
        frame.round(3).to_markdown(index=False),
    ]
    if "test_log_lik" in frame:
        vae = frame[frame.model == "vae"].pivot(
            index="seed", columns="processes", values="test_log_lik"
        )
        gap = (vae[args.processes] - vae[1]).abs()
        lines += [
            "",
            "## The VAE's held-out log-likelihood (k = 1000), normal mode",
            "",
            vae.round(3).to_markdown(),
            "",
            f"Seed-to-seed spread (sd over seeds) with 1 process: {vae[1].std():.3f} nats; "
            f"with {args.processes}: {vae[args.processes].std():.3f}. Mean |1 - "
            f"{args.processes} processes| for the same seed: {gap.mean():.3f} nats.",
        ]
    (RESULTS / f"distributed_throughput{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
