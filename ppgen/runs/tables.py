"""Writing a run's tables (CSV for machines, markdown for people) and figures (PNG) to files."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd


def save_figure(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_table(table: pd.DataFrame, path_without_suffix: Path, floatfmt: str = ".3f") -> None:
    """The same table as CSV (for machines) and markdown (for people)."""
    table.to_csv(path_without_suffix.with_suffix(".csv"), index=False)
    path_without_suffix.with_suffix(".md").write_text(
        table.to_markdown(index=False, floatfmt=floatfmt) + "\n"
    )
