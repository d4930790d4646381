"""``ppgen demo``: the main job on bundled data, written up as a small report in a run folder.

Each section (one file each) fits models, writes its tables (CSV + markdown) and figures (PNG) into
the run folder and returns the markdown that goes into ``report.md``. Later capabilities add
sections to ``SECTIONS``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..progress import announce
from ..runs.folder import open_run_dir
from .adversarial import adversarial_section
from .estimators import estimator_section
from .flows import flow_section
from .linear_factor import linear_factor_section
from .vae import vae_section

SECTIONS = [
    linear_factor_section,
    estimator_section,
    vae_section,
    flow_section,
    adversarial_section,
]


def run_demo(out: str | Path | None = None, quick: bool = False, progress: bool = True) -> Path:
    """Run every demo section, write ``report.md`` in the run folder, and return the folder."""
    with open_run_dir(out, "demo") as run_dir:
        start = time.perf_counter()
        parts = []
        for number, section in enumerate(SECTIONS, start=1):
            title = section.__doc__.strip().splitlines()[0] if section.__doc__ else section.__name__
            announce(f"[{number}/{len(SECTIONS)}] {title}", progress)
            parts.append(section(run_dir, quick, progress))
    header = [
        "# ppgen demo report",
        "",
        f"Written by `ppgen demo{' --quick' if quick else ''}` in "
        f"{time.perf_counter() - start:.0f} s (torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads).",
        "",
    ]
    (run_dir / "report.md").write_text("\n".join(header + parts))
    return run_dir
