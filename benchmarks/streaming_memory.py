"""Benchmark: training streams a .npy file 10x larger than a memory budget.

Issue 16's streaming item. A ``.npy`` file of ``factor x budget`` bytes (float32 rows of
``--dim`` values, drawn from a PPCA with 8 factors) is written in chunks; then a fresh process
trains ``PPCA(dim, 8)`` on it for one whole epoch (every row read once) from
``DataLoader(NpyRows(path), batch_size=...)``, and reports its peak resident set size
(``ru_maxrss``, which would count the pages of a memory map too). The claim holds if that peak stays
under the budget. For contrast the table gives what loading the file whole would hold: its size.

Run:  python benchmarks/streaming_memory.py [--budget-mib 512] [--factor 10] [--dim 1024]
Writes benchmarks/results/streaming_memory.{csv,md}. Needs ``factor x budget`` of free disk
(the file is deleted afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"
CHUNK_ROWS = 16_384
LATENT = 8


def write_file(path: Path, rows: int, dim: int, seed: int = 0) -> None:
    """PPCA data, written a chunk at a time (the writer never holds the file either)."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(LATENT, dim)).astype(np.float32) / np.sqrt(LATENT)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
              "fortran_order": False, "shape": (rows, dim)}  # fmt: skip
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_2_0(handle, header)
        for start in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - start)
            z = rng.normal(size=(count, LATENT)).astype(np.float32)
            noise = 0.5 * rng.normal(size=(count, dim)).astype(np.float32)
            handle.write((z @ weight + noise).astype(np.float32).tobytes())


def train(task: dict) -> dict:
    """One epoch over the file in this (fresh) process: time and peak RSS."""
    import torch
    from torch.utils.data import DataLoader

    import ppgen
    from ppgen.data import NpyRows
    from ppgen.models import PPCA

    torch.set_num_threads(task["threads"])
    start = time.perf_counter()
    rows = NpyRows(task["path"])  # scans the file once for NaN, a chunk at a time
    scan = time.perf_counter() - start
    torch.manual_seed(0)
    model = PPCA(task["dim"], LATENT)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = -(-len(rows) // task["batch"])  # one epoch
    loader = DataLoader(rows, batch_size=task["batch"], num_workers=task["workers"])
    result = ppgen.fit(model, loader, steps=steps, lr=0.01, progress=False, log_every=50)
    return {
        "rows": len(rows),
        "steps": steps,
        "scan_s": scan,
        "train_s": float(result.history["wall_time"].iloc[-1]),
        "final_loss": result.final_loss,
        "peak_rss_before_fit_mib": before,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-mib", type=int, default=512)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        print(json.dumps(train(json.loads(args.task))))
        return
    budget = args.budget_mib * 2**20
    rows = args.factor * budget // (4 * args.dim)
    with tempfile.TemporaryDirectory(dir=os.environ.get("PPGEN_BENCH_DIR")) as folder:
        path = Path(folder) / "rows.npy"
        start = time.perf_counter()
        write_file(path, rows, args.dim)
        written = time.perf_counter() - start
        size = path.stat().st_size
        task = {"path": str(path), "dim": args.dim, "batch": args.batch,
                "workers": args.workers, "threads": args.threads}  # fmt: skip
        output = subprocess.run(
            [sys.executable, __file__, "--task", json.dumps(task)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    measured = json.loads(output.strip().splitlines()[-1])
    row = {"budget_mib": args.budget_mib, "file_mib": size / 2**20, "dim": args.dim,
           "batch": args.batch, "workers": args.workers, "write_s": written, **measured,
           "under_budget": measured["peak_rss_mib"] < args.budget_mib}  # fmt: skip
    frame = pd.DataFrame([row])
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(RESULTS / "streaming_memory.csv", index=False)
    import torch

    lines = [
        "# Streaming a .npy file 10x larger than the memory budget",
        "",
        f"Command: `python benchmarks/streaming_memory.py --budget-mib {args.budget_mib} "
        f"--factor {args.factor} --dim {args.dim} --batch {args.batch} --workers {args.workers}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({args.threads} threads), Python {platform.python_version()}.",
        "One epoch of `fit(PPCA(dim, 8), DataLoader(NpyRows(path), batch_size=B))` in a fresh "
        "process; peak RSS is that process's `ru_maxrss` (which would count a memory map's "
        "pages too; `NpyRows` reads with `pread`), from "
        "start-up to the end of training. Loading the file whole would hold `file_mib`.",
        "",
        frame.round(2).to_markdown(index=False),
    ]
    (RESULTS / "streaming_memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
