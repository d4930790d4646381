"""Rows of a ``.npy`` file larger than memory, read a batch at a time through a memory map.

:class:`NpyRows` is a map-style ``torch.utils.data.Dataset`` over the rows (dim 0) of a NumPy
file. The header is parsed by NumPy's own format reader without unpickling anything (object
arrays are refused), and each batch is read through a fresh read-only memory map that is closed
right after: the pages a batch touched leave the process's resident set with the map, so peak
memory stays at a few batches whatever the file's size (``benchmarks/streaming_memory.py``
measures it). Reading many rows at once (``__getitems__``, which the ``DataLoader`` uses) visits
them in file order.

Pass it to ``fit`` in a ``DataLoader`` (workers, pinned memory and prefetching are the loader's)
or alone; ``fit`` streams it (:mod:`ppgen.inference.streaming`) instead of loading it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

#: Rows per chunk of the finiteness scan, so that it reads the file with bounded memory.
SCAN_ROWS = 65_536


class NpyRows(TorchDataset):
    """The rows of the ``.npy`` file ``path`` as ``float32`` tensors (``dtype`` to change).

    ``check``: scan the whole file once, a chunk at a time, for NaN and infinite values, so that
    bad data is refused before training rather than at the batch that holds it.
    """

    #: fit streams this data set rather than collating it into memory.
    streamed = True

    def __init__(self, path, dtype: torch.dtype = torch.float32, check: bool = True):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path} does not exist or is not a file")
        with open(self.path, "rb") as handle:
            try:
                version = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, file_dtype = read_header(handle)
            except ValueError as error:
                raise ValueError(f"{self.path} is not a NumPy .npy file: {error}") from None
            self.offset = handle.tell()
        if file_dtype.hasobject:
            raise ValueError(f"{self.path} holds Python objects (pickled); ppgen never unpickles")
        if fortran and len(shape) > 1:
            raise ValueError(f"{self.path} is in Fortran order; rows must be contiguous (C order)")
        if len(shape) == 0 or shape[0] == 0:
            raise ValueError(f"{self.path} has no rows (shape {shape})")
        if not (np.issubdtype(file_dtype, np.number) or file_dtype == np.bool_):
            raise ValueError(f"{self.path} has dtype {file_dtype}; ppgen reads numbers")
        self.shape, self.file_dtype, self.dtype = tuple(shape), file_dtype, dtype
        if check:
            self._check_finite()

    def __len__(self) -> int:
        return self.shape[0]

    def _map(self) -> np.memmap:
        return np.memmap(
            self.path, dtype=self.file_dtype, mode="r", offset=self.offset, shape=self.shape
        )

    def _check_finite(self) -> None:
        if not np.issubdtype(self.file_dtype, np.floating):
            return
        for start in range(0, len(self), SCAN_ROWS):
            rows = self._map()[start : start + SCAN_ROWS]
            finite = np.isfinite(rows)
            if not finite.all():
                where = tuple(int(i) for i in np.argwhere(~finite)[0])
                raise ValueError(
                    f"{self.path} contains NaN or infinite values, the first at index "
                    f"{(start + where[0], *where[1:])}"
                )
            del rows  # unmap: the scan's pages leave the resident set

    def read(self, index) -> torch.Tensor:
        """Rows ``index`` (a sequence of ints) as one tensor ``(len(index), *row_shape)``."""
        index = np.asarray(index, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"row index out of range for {len(self)} rows")
        order = np.argsort(index, kind="stable")  # read in file order
        mapped = self._map()
        rows = np.empty((len(index), *self.shape[1:]), dtype=self.file_dtype)
        rows[order] = mapped[index[order]]
        del mapped  # unmap now (module docstring)
        return torch.from_numpy(rows).to(self.dtype)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.read([i])[0]

    def __getitems__(self, index) -> list[torch.Tensor]:
        return list(self.read(index))  # the DataLoader's collate stacks them

    def __repr__(self) -> str:
        return f"NpyRows({str(self.path)!r}, rows={len(self)}, row_shape={self.shape[1:]})"
