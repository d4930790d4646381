"""Every tutorial runs end to end in smoke mode (tiny budgets), writing its figures.

The smoke runs are subprocesses that spend most of their time in Python, so they run side by
side, one per core (at most 4), each with one thread. On two quiet cores the first 11 took 116 s
(13 tests); tutorial 12's smoke run took 6 s in a clean-clone run of the default selection.
"""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parents[1] / "tutorials").glob("[0-9][0-9]_*.py"))


def _smoke_run(path: Path, figures: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, PPGEN_SMOKE="1", PPGEN_FIGURES=str(figures), MPLBACKEND="Agg",
        OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
    )  # fmt: skip
    return subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def smoke_runs(request, tmp_path_factory):
    """Start the smoke run of every selected tutorial at once, one per core at a time;
    ``{path: (future, figures folder)}``."""
    selected = {
        item.callspec.params["path"]
        for item in request.session.items
        if item.originalname == "test_tutorial_runs_in_smoke_mode"
    }
    # The cores this process may use (not all of a big machine's), and at most 4 runs at once:
    # each holds a Python process with torch in memory.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pool = ThreadPoolExecutor(max_workers=min(cores or 1, 4))
    runs = {}
    for path in sorted(selected):
        figures = tmp_path_factory.mktemp(path.stem)
        runs[path] = (pool.submit(_smoke_run, path, figures), figures)
    yield runs
    pool.shutdown(cancel_futures=True)


def test_tutorials_exist():
    assert TUTORIALS, "no tutorials found"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_smoke_mode(path, smoke_runs):
    future, figures = smoke_runs[path]
    done = future.result()
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in figures.glob("*.png")), "the tutorial wrote no figures"


def test_a_smoke_run_leaves_the_committed_figures_alone(tmp_path):
    """Issue 15: a smoke run without PPGEN_FIGURES writes to a temporary folder, not over
    docs/figures/."""
    root = Path(__file__).parents[1]
    path = root / "tutorials" / "01_ppca_factor_analysis.py"
    committed = root / "docs" / "figures" / "01_ppca_factor_analysis"
    before = {p.name: p.stat().st_mtime_ns for p in committed.glob("*.png")}
    env = {k: v for k, v in os.environ.items() if k != "PPGEN_FIGURES"}
    env.update(PPGEN_SMOKE="1", MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, str(path)], env=env, cwd=root, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert {p.name: p.stat().st_mtime_ns for p in committed.glob("*.png")} == before
    assert "ppgen-smoke-" in done.stdout  # it says where the figures went
