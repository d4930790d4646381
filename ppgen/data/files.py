"""Data from a user's file: ``.npy``, ``.npz``, ``.pt`` or ``.csv``, read without running code.

``load_data_file(path)`` returns what ``fit`` takes: one tensor (rows on dim 0), or a dict of
tensors (an ``.npz`` or ``.pt`` file with several arrays, passed to the program as keyword
arguments). Nothing in the file may execute: NumPy files are read with ``allow_pickle=False``,
``.pt`` files with ``torch.load(weights_only=True)`` and must hold a tensor or a dict of tensors.

Floating-point arrays keep their precision except ``float64``, which becomes PyTorch's default
``float32`` (NumPy's default dtype is not a choice the user made); the caller is told.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..registry import DATASETS
from .dataset import Dataset

SUFFIXES = (".npy", ".npz", ".pt", ".csv")


def _tensor(array, name: str) -> torch.Tensor:
    if isinstance(array, np.ndarray):
        if array.dtype == object or array.dtype.kind in "USV":
            raise ValueError(f"{name}: arrays of dtype {array.dtype} are not numeric data")
        array = torch.from_numpy(np.ascontiguousarray(array))
    if not isinstance(array, torch.Tensor):
        raise TypeError(f"{name} must hold a tensor or a dict of tensors, got {type(array)}")
    if array.dtype == torch.float64:
        array = array.to(torch.get_default_dtype())
    return array


def _read_csv(path: Path) -> np.ndarray:
    with path.open() as handle:
        first = handle.readline()
    try:
        [float(cell) for cell in first.strip().split(",")]
        skip = 0
    except ValueError:  # a header row of column names
        skip = 1
    array = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    if array.size == 0:
        raise ValueError(f"{path} has no data rows")
    return array


def load_data_file(path: str | Path) -> torch.Tensor | dict[str, torch.Tensor]:
    """A tensor, or a dict of tensors for a file with several named arrays (module docstring)."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path}: data files must end in {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such data file")
    if path.suffix == ".csv":
        return _tensor(_read_csv(path), str(path))
    if path.suffix == ".pt":
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several types for refused or damaged files
            raise ValueError(
                f"{path} is not a tensor file ppgen can read safely: {str(error).splitlines()[0]}"
            ) from error
    else:
        try:  # an .npz archive reads its arrays lazily: each one is refused on access
            content = np.load(path, allow_pickle=False)
            if path.suffix == ".npz":
                content = {key: content[key] for key in content.files}
        except ValueError as error:
            raise ValueError(f"{path}: {error} (pickled arrays are refused)") from error
    if isinstance(content, dict):
        if not content:
            raise ValueError(f"{path} holds no arrays")
        tensors = {str(k): _tensor(v, f"{path}[{k!r}]") for k, v in content.items()}
        return next(iter(tensors.values())) if len(tensors) == 1 else tensors
    return _tensor(content, str(path))


#: Fractions of the rows of a single-array file that go to validation and test.
VAL_FRACTION, TEST_FRACTION = 0.1, 0.1


def load_file_dataset(path: str, seed: int = 0):
    """A :class:`~ppgen.data.Dataset` from a user's file (``load_dataset("file", path=...)``).

    A file with arrays named ``train``, ``val`` and ``test`` gives those splits; a file with one
    array is split 80/10/10 by a seeded permutation of its rows. The rows must be floating-point
    vectors, ``(num_points, num_features)``, what ppgen's models take; a user's own Pyro program
    takes any file through ``fit`` directly (:func:`load_data_file`).
    """
    content = load_data_file(path)
    if isinstance(content, dict):
        missing = {"train", "val", "test"} - set(content)
        if missing:
            raise ValueError(
                f"{path}: a file with several arrays needs train, val and test (missing "
                f"{sorted(missing)}); it has {sorted(content)}"
            )
        splits = [content[k] for k in ("train", "val", "test")]
    else:
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(content), generator=generator)
        num_val, num_test = int(VAL_FRACTION * len(content)), int(TEST_FRACTION * len(content))
        rows = [
            order[num_val + num_test :],
            order[:num_val],
            order[num_val : num_val + num_test],
        ]
        splits = [content[r] for r in rows]
    for name, split in zip(("train", "val", "test"), splits):
        if split.dim() != 2 or not split.is_floating_point():
            raise ValueError(
                f"{path}: the {name} rows must be a floating-point (num_points, num_features) "
                f"array, got dtype {split.dtype} and shape {tuple(split.shape)}"
            )
    meta = {"path": str(path), "source": "file"}
    return Dataset("file", *splits, meta=meta)


def write_example(directory: Path) -> dict:
    """A tiny ``.npy`` of 30 rows of 3 reals in ``directory``, and the options that load it: the
    data-set contract test's input."""
    path = Path(directory) / "rows-example.npy"
    np.save(path, np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32))
    return {"path": str(path)}


DATASETS.register(
    "file",
    load_file_dataset,
    description="your own rows from path= (.npy, .npz, .pt or .csv), never pickled",
    example=write_example,
)
