"""Data sets for ppgen: :func:`load_dataset` and the :class:`Dataset` container it returns.

Bundled: ``digits`` (scikit-learn), 2-D toys with exact densities (``ring8``, ``grid25``,
``8gaussians``, ``moons``), ``linear_gaussian`` synthetic factor data; from a local path: ``mnist``
and ``file``; and :class:`NpyRows`, the rows of a ``.npy`` file larger than memory, which ``fit``
streams. Each loader registers itself in its own file (:data:`ppgen.registry.DATASETS`); importing
this package imports every file in it.
"""

from ..registry import import_submodules
from .dataset import Dataset
from .load_dataset import available_datasets, load_dataset, register_dataset
from .npy_rows import NpyRows

import_submodules(__name__, __path__)

__all__ = ["Dataset", "NpyRows", "available_datasets", "load_dataset", "register_dataset"]
