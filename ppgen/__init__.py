"""ppgen: deep generative models as Pyro model/guide pairs.

The public entry points: :func:`load_dataset`, the model classes in :mod:`ppgen.models`,
:func:`fit`, :func:`compare`, and the evaluation and analysis helpers in :mod:`ppgen.evaluation`
and :mod:`ppgen.analysis`.

They are imported on first use (PEP 562), so that ``ppgen --help`` does not pay for torch, Pyro
and ArviZ; ``import ppgen`` then ``ppgen.fit`` works as usual.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Sub-packages reachable as attributes (``ppgen.inference.get_estimator``) without an import.
_SUBMODULES = {
    "analysis",
    "data",
    "demo",
    "evaluation",
    "inference",
    "models",
    "plots",
    "program",
    "runs",
    "training",
}
#: Public name -> the submodule that defines it.
_LAZY = {
    "Dataset": ".data",
    "load_dataset": ".data",
    "compare": ".evaluation",
    "FitResult": ".training",
    "fit": ".training",
    "PPCA": ".models",
    "VAE": ".models",
    "FactorAnalysis": ".models",
    "FlowDensity": ".models",
    "GenerativeModel": ".models",
    "Generator": ".models",
    "SigmoidBeliefNet": ".models",
    "NADE": ".models",
    "RNADE": ".models",
    "MADE": ".models",
    "DRAW": ".models",
    "Diffusion": ".models",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ppgen' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
