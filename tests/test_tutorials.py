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
