"""Rows of a ``.npy`` file larger than memory, read a batch at a time.

:class:`NpyRows` is a map-style ``torch.utils.data.Dataset`` over the rows (dim 0) of a NumPy
file. The header is parsed by NumPy's own format reader without unpickling anything (object
arrays are refused). Rows are read with positioned reads (``os.pread``), in file order,
consecutive rows in one read: the operating system's page cache holds what was read, not the
process, so peak memory stays at a few batches whatever the file's size
(``benchmarks/streaming_memory.py`` measures it). A memory map (``np.load(mmap_mode="r")``) does
not: its pages count in the process's resident set, and on the machine the benchmark ran on
(8 MiB read-ahead) gathering 1024 random 1 KiB rows of a 512 MiB file through one raised the
resident set by about 480 MiB.

Pass it to ``fit`` in a ``DataLoader`` (workers, pinned memory and prefetching are the loader's)
or alone; ``fit`` streams it (:mod:`ppgen.training.streaming`) instead of loading it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

#: Bytes per chunk of the finiteness scan, so that it reads the file with bounded memory.
SCAN_BYTES = 16 * 2**20


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

    def _read_rows(self, handle, start: int, count: int) -> np.ndarray:
        """Rows ``start .. start + count`` from the open file ``handle`` (one positioned read)."""
        row_bytes = self.file_dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        data = os.pread(handle, count * row_bytes, self.offset + start * row_bytes)
        if len(data) != count * row_bytes:
            raise ValueError(f"{self.path} is shorter than its header says ({self.shape})")
        return np.frombuffer(data, dtype=self.file_dtype).reshape(count, *self.shape[1:])

    def scan(self):
        """``(start, rows)`` for consecutive chunks of the file (about ``SCAN_BYTES`` each, as
        NumPy arrays in the file's dtype): one pass with bounded memory."""
        row_bytes = self.file_dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        chunk = max(1, SCAN_BYTES // max(row_bytes, 1))
        handle = os.open(self.path, os.O_RDONLY)
        try:
            for start in range(0, len(self), chunk):
                yield start, self._read_rows(handle, start, min(chunk, len(self) - start))
        finally:
            os.close(handle)

    def chunks(self):
        """The rows in consecutive chunks, as tensors of ``dtype`` (one pass, bounded memory):
        what ``fit`` checks a ppgen model's streamed training data with, before training."""
        for _, rows in self.scan():
            yield torch.as_tensor(rows.astype(np.float64)).to(self.dtype)

    def _check_finite(self) -> None:
        if not np.issubdtype(self.file_dtype, np.floating):
            return
        for start, rows in self.scan():
            finite = np.isfinite(rows)
            if not finite.all():
                where = tuple(int(i) for i in np.argwhere(~finite)[0])
                raise ValueError(
                    f"{self.path} contains NaN or infinite values, the first at index "
                    f"{(start + where[0], *where[1:])}"
                )

    def read(self, index) -> torch.Tensor:
        """Rows ``index`` (a sequence of ints) as one tensor ``(len(index), *row_shape)``."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"row index out of range for {len(self)} rows")
        order = np.argsort(index, kind="stable")  # read in file order
        wanted = index[order]
        rows = np.empty((len(index), *self.shape[1:]), dtype=self.file_dtype)
        # Runs of consecutive rows, each read at once: (first position in `wanted`, length).
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        starts = np.concatenate([[0], breaks]).astype(np.int64)
        lengths = np.diff(np.concatenate([starts, [len(wanted)]]))
        handle = os.open(self.path, os.O_RDONLY)
        try:
            for first, length in zip(starts.tolist(), lengths.tolist()):
                if length:
                    block = self._read_rows(handle, int(wanted[first]), length)
                    rows[order[first : first + length]] = block
        finally:
            os.close(handle)
        return torch.from_numpy(rows).to(self.dtype)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.read([i])[0]

    def __getitems__(self, index) -> list[torch.Tensor]:
        return list(self.read(index))  # the DataLoader's collate stacks them

    def __repr__(self) -> str:
        return f"NpyRows({str(self.path)!r}, rows={len(self)}, row_shape={self.shape[1:]})"
