"""Every tutorial runs end to end in smoke mode (tiny budgets), writing its figures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parents[1] / "tutorials").glob("[0-9][0-9]_*.py"))


def test_tutorials_exist():
    assert TUTORIALS, "no tutorials found"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_in_smoke_mode(path, tmp_path):
    env = dict(os.environ, PPGEN_SMOKE="1", PPGEN_FIGURES=str(tmp_path), MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = sorted(p.name for p in tmp_path.glob("*.png"))
    assert figures, "the tutorial wrote no figures"


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
