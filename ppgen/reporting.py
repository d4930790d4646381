"""Run folders: what ``ppgen fit`` and ``ppgen demo`` write, and how a saved model is reloaded.

A run folder holds ``config.json`` (how to rebuild the model and data), ``history.csv``,
``model.pt`` (the model's ``state_dict``), ``metrics.csv`` / ``metrics.md`` and PNG figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch

from .data import Dataset
from .evaluation import elbo
from .models.base import GenerativeModel


def new_run_dir(out: str | Path | None, label: str) -> Path:
    """``out`` if given, else ``runs/<label>-<timestamp>``; created, and refused if non-empty."""
    path = Path(out) if out else Path("runs") / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"run folder {path} exists and is not empty; choose another --out")
    path.mkdir(parents=True, exist_ok=True)
    return path


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


@torch.no_grad()
def score_model(model: GenerativeModel, data: Dataset, num_samples: int = 100) -> pd.DataFrame:
    """Per-split mean ELBO and, where exact, mean ``log p(x)`` (nats per data point)."""
    rows = []
    for split in ("train", "val", "test"):
        x = getattr(data, split).to(model.device)
        row = {"split": split, "elbo": float(elbo(model, x, num_samples=num_samples).mean())}
        if model.has_exact_log_prob:
            row["log_lik"] = float(model.log_prob(x).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def save_model(run_dir: Path, model: GenerativeModel, config: dict) -> None:
    """``model.pt`` (state_dict) and ``config.json`` (what rebuilds the model and data)."""
    torch.save(model.state_dict(), run_dir / "model.pt")
    (run_dir / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")


def image_meta(data: Dataset) -> tuple | None:
    """``(image_shape, kept_columns)`` for image data, else ``None``."""
    if "image_shape" not in data.meta:
        return None
    return data.meta["image_shape"], data.meta.get("kept_columns")
