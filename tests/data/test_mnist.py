"""mnist: IDX and npz files the tests write, and clear errors for missing or malformed files."""

import gzip

import numpy as np
import pytest
import torch

from ppgen import load_dataset
from ppgen.data.mnist import IDX_FILES


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (60, 28, 28)),
        "y_train": rng.integers(0, 10, 60),
        "x_test": rng.integers(0, 256, (12, 28, 28)),
        "y_test": rng.integers(0, 10, 12),
    }


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_reads_idx_directory(tmp_path, arrays, suffix):
    for key, stem in IDX_FILES.items():
        write_idx(tmp_path / f"{stem}{suffix}", arrays[key])
    data = load_dataset("mnist", path=tmp_path)
    assert data.train.shape == (50, 784) and data.val.shape == (10, 784)
    assert data.test.shape == (12, 784)
    assert torch.equal(data.train[0], torch.as_tensor(arrays["x_train"][0].ravel()).float())
    assert torch.equal(data.val_labels, torch.as_tensor(arrays["y_train"][50:]))
    binary = load_dataset("mnist", path=tmp_path, binarize="threshold")
    assert torch.equal(binary.test, (data.test >= 128).float())


def test_reads_npz(tmp_path, arrays):
    np.savez(tmp_path / "mnist.npz", **{k: v.astype(np.uint8) for k, v in arrays.items()})
    data = load_dataset("mnist", path=tmp_path / "mnist.npz", num_val=20)
    assert data.train.shape == (40, 784) and data.meta["image_shape"] == (28, 28)


def test_missing_path_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="pass path="):
        load_dataset("mnist")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("mnist", path=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_dataset("mnist", path=tmp_path)


def test_malformed_files(tmp_path, arrays):
    for key, stem in IDX_FILES.items():
        write_idx(tmp_path / stem, arrays[key])
    images = tmp_path / IDX_FILES["x_train"]
    images.write_bytes(images.read_bytes()[:-5])  # truncated
    with pytest.raises(ValueError, match="truncated or malformed"):
        load_dataset("mnist", path=tmp_path)
    images.write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 20)  # wrong number of dimensions
    with pytest.raises(ValueError, match="magic number"):
        load_dataset("mnist", path=tmp_path)
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=arrays["x_train"])
    with pytest.raises(ValueError, match="lacks array"):
        load_dataset("mnist", path=bad)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="could not be read"):
        load_dataset("mnist", path=garbage)


def test_nan_pixels_are_refused(tmp_path, arrays):
    """Issue 15: NaN used to pass the 0..255 range check (every comparison with NaN is False)."""
    floats = {k: v.astype(np.float32) for k, v in arrays.items()}
    floats["x_test"][0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **floats)
    with pytest.raises(ValueError, match="pixel values must lie in 0..255"):
        load_dataset("mnist", path=tmp_path / "nan.npz")
