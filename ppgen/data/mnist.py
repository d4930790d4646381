"""MNIST (or Fashion-MNIST) read from a local path: the four IDX files or one ``.npz`` archive.

No download happens: pass ``path=`` a directory holding ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each
optionally ``.gz``), or a ``.npz`` file with arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``
(the Keras layout). The last ``num_val`` training images (default one sixth: 10,000 of 60,000)
form the validation split; t10k is the test split. Pixels stay raw levels 0..255.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from ..registry import DATASETS
from .dataset import Dataset

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# IDX magic numbers: two zero bytes, the type code (0x08 = unsigned byte), the number of dims.
IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read one unsigned-byte IDX file (optionally gzipped) with ``ndim`` dimensions."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path} is too short ({len(raw)} bytes) to be an IDX file")
    magic = int.from_bytes(raw[:4], "big")
    if magic != IDX_MAGIC[ndim]:
        raise ValueError(
            f"{path} is not an unsigned-byte IDX file with {ndim} dimension(s): "
            f"magic number {magic:#010x}, expected {IDX_MAGIC[ndim]:#010x}"
        )
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(shape)):
        raise ValueError(
            f"{path} declares shape {tuple(shape)} ({int(np.prod(shape))} bytes) but holds "
            f"{len(body)} bytes of data: the file is truncated or malformed"
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _find_idx(directory: Path, stem: str) -> Path:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"MNIST file {stem}[.gz] not found in {directory}; expected the four IDX files "
        f"{', '.join(IDX_FILES.values())} (optionally .gz)"
    )


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy raises several types for a damaged archive
        raise ValueError(f"{path} could not be read as an .npz archive: {error}") from error
    missing = [key for key in IDX_FILES if key not in archive.files]
    if missing:
        raise ValueError(
            f"{path} lacks array(s) {', '.join(missing)}; expected x_train, y_train, x_test, "
            f"y_test, found {', '.join(archive.files) or 'none'}"
        )
    try:  # arrays are read lazily: a pickled one is refused here, never run
        return {key: archive[key] for key in IDX_FILES}
    except ValueError as error:
        raise ValueError(f"{path}: {error} (pickled arrays are refused)") from error


def load_mnist(*, path: str | Path | None = None, num_val: int | None = None) -> Dataset:
    """Load MNIST-format data from ``path`` (a directory of IDX files or an ``.npz`` file)."""
    if path is None:
        raise ValueError(
            "mnist is read from a local copy: pass path= a directory with the four IDX files "
            "or an .npz file with x_train, y_train, x_test, y_test"
        )
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"MNIST path {path} does not exist")
    if path.is_dir():
        ndims = {"x_train": 3, "y_train": 1, "x_test": 3, "y_test": 1}
        arrays = {k: read_idx(_find_idx(path, IDX_FILES[k]), ndims[k]) for k in IDX_FILES}
    else:
        arrays = _read_npz(path)
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{path}: {split} images must have shape (n, height, width) and labels (n,) with "
                f"the same n, got {images.shape} and {labels.shape}"
            )
        # Written so that NaN fails too (every comparison with NaN is False).
        if not ((images >= 0) & (images <= 255)).all():
            raise ValueError(f"{path}: {split} pixel values must lie in 0..255 (NaN is refused)")
    num_train_total = len(arrays["x_train"])
    num_val = num_train_total // 6 if num_val is None else num_val
    if not 0 < num_val < num_train_total:
        raise ValueError(f"num_val must lie in 1..{num_train_total - 1}, got {num_val}")

    def flat(images):
        return torch.as_tensor(images.reshape(len(images), -1).astype(np.float32))

    x_train, x_test = flat(arrays["x_train"]), flat(arrays["x_test"])
    y_train = torch.as_tensor(arrays["y_train"].astype(np.int64))
    y_test = torch.as_tensor(arrays["y_test"].astype(np.int64))
    cut = num_train_total - num_val
    return Dataset(
        name="mnist",
        train=x_train[:cut],
        val=x_train[cut:],
        test=x_test,
        train_labels=y_train[:cut],
        val_labels=y_train[cut:],
        test_labels=y_test,
        values="levels",
        image_shape=tuple(arrays["x_train"].shape[1:]),
        num_levels=256,
        num_classes=10,
        meta={"source": str(path)},
    )


def write_example(directory: Path) -> dict:
    """A tiny MNIST-format ``.npz`` (20 training and 5 test images of 4x4 pixels) in
    ``directory``, and the options that load it: the data-set contract test's input."""
    generator = np.random.default_rng(0)
    arrays = {
        "x_train": generator.integers(0, 256, (20, 4, 4), dtype=np.uint8),
        "y_train": generator.integers(0, 10, 20),
        "x_test": generator.integers(0, 256, (5, 4, 4), dtype=np.uint8),
        "y_test": generator.integers(0, 10, 5),
    }
    path = Path(directory) / "mnist-example.npz"
    np.savez(path, **arrays)
    return {"path": str(path)}


DATASETS.register(
    "mnist",
    load_mnist,
    description="MNIST / Fashion-MNIST from a local path= (IDX or npz)",
    quantized_image=True,
    example=write_example,
)
