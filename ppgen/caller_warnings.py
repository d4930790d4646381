"""Warnings that point at the user's line, not at ppgen's internals.

``warnings.warn(..., stacklevel=N)`` counts frames, and the count breaks whenever the code between
the user's call and the warning changes shape. :func:`warn` skips every frame inside ppgen, torch
and Pyro instead (Python 3.12's ``skip_file_prefixes``), so a warning is attributed to the first
line outside them: the user's ``fit``, ``log_likelihood`` or ``compare`` call.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pyro
import torch

#: The packages whose frames a warning skips.
SKIPPED = tuple(str(Path(module.__file__).resolve().parent) for module in (torch, pyro)) + (
    str(Path(__file__).resolve().parent),
)


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)``, attributed to the first frame outside ppgen, torch
    and Pyro."""
    warnings.warn(message, category, skip_file_prefixes=SKIPPED)
