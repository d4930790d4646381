"""Data sets for ppgen: :func:`load_dataset` and the :class:`Dataset` container it returns.

Bundled: ``digits`` (scikit-learn), 2-D toys with exact densities (``ring8``, ``grid25``,
``8gaussians``, ``moons``), ``linear_gaussian`` synthetic factor data; from a local path: ``mnist``;
and :class:`NpyRows`, the rows of a ``.npy`` file larger than memory, which ``fit`` streams.
"""

from .dataset import Dataset
from .npy_rows import NpyRows
from .registry import available_datasets, load_dataset, register_dataset

__all__ = ["Dataset", "NpyRows", "available_datasets", "load_dataset", "register_dataset"]
