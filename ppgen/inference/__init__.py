"""Inference: gradient estimators of the ELBO and its multi-sample bounds, one per file, and custom
objectives in ``losses/`` (as ``pyro.infer`` holds Pyro's ELBOs). Training them is
:mod:`ppgen.training`.

Importing this package imports every file in it, and each estimator registers itself
(:data:`ppgen.registry.ESTIMATORS`); a new estimator is one new file.
"""

from ..registry import import_submodules
from .estimator import Estimator
from .lookup import available_estimators, get_estimator, register_estimator

import_submodules(__name__, __path__)

__all__ = ["Estimator", "available_estimators", "get_estimator", "register_estimator"]
