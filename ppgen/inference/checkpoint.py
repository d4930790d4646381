"""Atomic training checkpoints.

A checkpoint is one ``torch.save`` file holding everything needed to continue a run as if it had
never stopped: parameters, optimizer and learning-rate-schedule state, the step, the position in
the current epoch's shuffle, every random-number generator, and the history so far. It is written
to a temporary file next to the target and renamed over it, so a crash mid-write never leaves a
truncated checkpoint in place of the last good one.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

FORMAT = "ppgen-checkpoint-1"


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically (write a sibling temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save({"format": FORMAT, **state}, temporary)
    os.replace(temporary, path)


def load_checkpoint(path: str | Path, map_location=None) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`; ``ValueError`` if it is not one."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # torch raises several types for damaged files
        raise ValueError(f"{path} is not a readable ppgen checkpoint: {error}") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a ppgen checkpoint (format {FORMAT!r})")
    return state


def check_same_settings(saved: dict, current: dict, path: str | Path) -> None:
    """Refuse to resume a checkpoint written with different training settings."""
    differences = [
        f"{key}: checkpoint {saved.get(key)!r}, now {value!r}"
        for key, value in current.items()
        if saved.get(key) != value
    ]
    if differences:
        raise ValueError(
            f"checkpoint {path} was written by a run with other settings ("
            + "; ".join(differences)
            + "); pass the same settings to resume, or another checkpoint path to start afresh"
        )
