"""A/B: ppgen's training step at two git revisions, on one machine, runs alternating.

``benchmarks/speed_vs_pytorch.py`` times ppgen against a hand-written loop within one run; on a
shared machine the absolute times drift between runs by more than a refactor could change them.
This script checks out ``--base`` (a commit) into a temporary worktree, then runs the speed
benchmark of the base and of the working tree alternately, ``--rounds`` times each, and records
each round's ratio to the hand-written loop (which runs in the same process as ppgen, so the
ratio cancels the drift) with the medians per configuration.

Run:  python benchmarks/speed_ab.py --base fa9628d [--rounds 5] [--only "PPCA trace" ...]
Writes benchmarks/results/speed_ab.{csv,md}.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ONLY = ["VAE trace", "VAE iwae K=5", "SBN tracegraph", "PPCA trace", "Pyro VAE pair trace"]


def run(root: Path, only: list[str], repeats: int, out: Path) -> pd.DataFrame:
    """One speed benchmark of the ppgen in ``root`` (first on the path), its table."""
    command = [sys.executable, str(root / "benchmarks" / "speed_vs_pytorch.py"), "--only", *only,
               "--repeats", str(repeats), "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return pd.concat(pd.read_csv(path) for path in sorted(out.glob("speed_vs_pytorch*.csv")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare the tree against")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=DEFAULT_ONLY)
    parser.add_argument("--out", default=ROOT / "benchmarks" / "results", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
        try:
            for round_ in range(args.rounds):
                for label, root in (("base", base), ("tree", ROOT)):
                    out = Path(scratch) / f"{label}{round_}"
                    table = run(root, args.only, args.repeats, out)
                    for record in table.to_dict("records"):
                        rows.append({"round": round_, "code": label,
                                     "configuration": record["configuration"],
                                     "ppgen_ms": record["ppgen ms/step"],
                                     "hand_written_ms": record["hand-written ms/step"],
                                     "ratio": record["ratio"]})  # fmt: skip
                    print(f"round {round_} {label} done", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                           check=False, capture_output=True)  # fmt: skip
    write(pd.DataFrame(rows), args)


def write(table: pd.DataFrame, args) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "speed_ab.csv", index=False)
    medians = table.pivot_table(index="configuration", columns="code", values="ratio",
                                aggfunc="median")  # fmt: skip
    spread = table.pivot_table(index="configuration", columns="code", values="ratio",
                               aggfunc=lambda r: f"{r.min():.2f}-{r.max():.2f}")  # fmt: skip
    summary = pd.DataFrame({
        "base ratio (median)": medians["base"], "base range": spread["base"],
        "tree ratio (median)": medians["tree"], "tree range": spread["tree"],
    })  # fmt: skip
    lines = [
        "# ppgen's step at two revisions, runs alternating",
        "",
        f"Command: `python benchmarks/speed_ab.py --base {args.base} --rounds {args.rounds} "
        f"--repeats {args.repeats}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"Python {platform.python_version()}; one thread, digits, batch 128.",
        "",
        "Ratio: ppgen's milliseconds per step over the hand-written loop's in the same run "
        "(the median over that run's repeats); the medians and ranges are over the rounds.",
        "",
        summary.to_markdown(floatfmt=".3f"),
        "",
    ]
    (args.out / "speed_ab.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
