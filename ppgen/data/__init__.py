"""Data sets for ppgen: :func:`load_dataset` and the :class:`Dataset` container it returns.

Bundled: ``digits`` (scikit-learn), 2-D toys with exact densities (``ring8``, ``grid25``,
``8gaussians``, ``moons``), ``linear_gaussian`` synthetic factor data; from a local path: ``mnist``.
"""

from .dataset import Dataset
from .registry import available_datasets, load_dataset, register_dataset

__all__ = ["Dataset", "available_datasets", "load_dataset", "register_dataset"]
