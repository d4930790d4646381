"""Benchmark: time and peak memory of the heavy evaluations and of multi-sample training steps.

Issue 7's scale item. Two measurements on the digits VAE (MLP 64-200-200-10, Bernoulli pixels):

1. ``ppgen.evaluation.log_likelihood`` with k = 5000 importance samples on the 447 test digits,
   against ``chunk_size`` (samples per pass) and ``batch_size`` (points per pass). One pass holds
   ``chunk_size * batch_size`` (sample, point) pairs, so memory follows that product and not k
   or the number of points. ``chunk_size=5000, batch_size=None`` is the unchunked computation.
2. An IWAE training step (``fit(estimator="iwae")``) against the batch size and K: time per step
   and peak memory, which grow with ``batch * K``; the batch size is the user's knob.

Each measurement runs in a fresh process, so that its peak is its own: on the CPU the peak
resident set size (``ru_maxrss``) minus the process's peak before the measured call; on CUDA
``torch.cuda.max_memory_allocated``. One thread unless ``--threads`` says otherwise.

Run:  python benchmarks/memory_scaling.py [--device cpu] [--threads 1]
Writes benchmarks/results/memory_scaling[_DEVICE].{csv,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

LOG_LIK_SAMPLES = 5000
LOG_LIK_CHUNKS = [  # (chunk_size, batch_size)
    (5000, None),
    (1000, None),
    (100, None),
    (10, None),
    (1000, 100),
    (100, 100),
    (100, 10),
]
IWAE_BATCHES = [32, 128, 512]
IWAE_PARTICLES = [1, 5, 50]
IWAE_STEPS = 60


def measure(task: dict) -> dict:
    """Run one measurement in this (fresh) process and return its time and peak memory."""
    import torch

    import ppgen
    from ppgen.evaluation import log_likelihood
    from ppgen.models import VAE

    torch.set_num_threads(task["threads"])
    device = torch.device(task["device"])
    data = ppgen.load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    model = VAE(64, latent_dim=10, hidden_dims=(200, 200)).init_from_data(data.train).to(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    if task["kind"] == "log_likelihood":
        x = data.test.to(device)
        log_likelihood(model, x[:2], num_samples=10)  # warm up outside the measurement

        def run():
            return log_likelihood(
                model,
                x,
                num_samples=LOG_LIK_SAMPLES,
                chunk_size=task["chunk_size"],
                batch_size=task["batch_size"],
            )

        repeat = 1
    else:
        x = data.train.to(device)

        def run():
            return ppgen.fit(
                model,
                x,
                estimator="iwae",
                num_particles=task["particles"],
                steps=IWAE_STEPS,
                batch_size=task["batch"],
                progress=False,
                device=device,
                log_every=10,
            )

        repeat = 1
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.perf_counter()
    result = run()
    sync()
    seconds = time.perf_counter() - start
    if task["kind"] != "log_likelihood":
        # Per step, from fit's own clock, leaving out set-up and the first 10 steps (tracing).
        wall_time = result.history["wall_time"]
        seconds = float(wall_time.iloc[-1] - wall_time.iloc[0]) / (IWAE_STEPS - 10)
    if device.type == "cuda":
        peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return {"seconds": seconds / repeat, "peak MiB": peak_mib}


def in_fresh_process(task: dict) -> dict:
    command = [sys.executable, __file__, "--worker", json.dumps(task)]
    env = dict(os.environ, OMP_NUM_THREADS=str(task["threads"]))
    output = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=Path(__file__).parent / "results", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(json.loads(args.worker))))
        return
    common = {"device": args.device, "threads": args.threads}

    log_lik_rows = []
    for chunk_size, batch_size in LOG_LIK_CHUNKS:
        task = {"kind": "log_likelihood", "chunk_size": chunk_size, "batch_size": batch_size}
        result = in_fresh_process({**task, **common})
        pairs = chunk_size * (batch_size or 447)
        log_lik_rows.append(
            {
                "chunk_size (samples)": chunk_size,
                "batch_size (points)": "all (447)" if batch_size is None else batch_size,
                "pairs per pass": pairs,
                "seconds": result["seconds"],
                "peak MiB": result["peak MiB"],
            }
        )
        print(log_lik_rows[-1], flush=True)

    iwae_rows = []
    for particles in IWAE_PARTICLES:
        for batch in IWAE_BATCHES:
            task = {"kind": "iwae", "particles": particles, "batch": batch}
            result = in_fresh_process({**task, **common})
            iwae_rows.append(
                {
                    "K": particles,
                    "batch": batch,
                    "ms/step": 1000 * result["seconds"],
                    "points/s": batch / result["seconds"],
                    "peak MiB": result["peak MiB"],
                }
            )
            print(iwae_rows[-1], flush=True)

    suffix = "" if args.device == "cpu" else f"_{args.device.split(':')[0]}"
    args.out.mkdir(parents=True, exist_ok=True)
    log_lik, iwae = pd.DataFrame(log_lik_rows), pd.DataFrame(iwae_rows)
    pd.concat([log_lik.assign(table="log_likelihood"), iwae.assign(table="iwae_step")]).to_csv(
        args.out / f"memory_scaling{suffix}.csv", index=False
    )
    import torch  # only for the machine line

    memory = "peak RSS increase of a fresh process" if args.device == "cpu" else "peak allocated"
    text = [
        "# Time and peak memory: log-likelihood with k = 5000, IWAE training steps",
        "",
        f"Command: `python benchmarks/memory_scaling.py --device {args.device} "
        f"--threads {args.threads}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({args.threads} threads), Python {platform.python_version()}.",
        f"Memory: {memory}, MiB. Model: the digits VAE (MLP 64-200-200-10), untrained.",
        "",
        f"## `log_likelihood(model, test, num_samples={LOG_LIK_SAMPLES})` on 447 test digits",
        "",
        log_lik.to_markdown(index=False, floatfmt=("", "", ".0f", ".1f", ".1f")),
        "",
        f"## IWAE training step (`fit(estimator='iwae')`, compiled), {IWAE_STEPS} steps",
        "",
        iwae.to_markdown(index=False, floatfmt=(".0f", ".0f", ".1f", ".0f", ".1f")),
        "",
    ]
    (args.out / f"memory_scaling{suffix}.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
