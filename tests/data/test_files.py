"""Data from users' files (.npy, .npz, .pt, .csv) without running code: round trips, splits, and
refusals of pickled or non-numeric content."""

import pickle

import numpy as np
import pytest
import torch

from ppgen import load_dataset
from ppgen.data.files import load_data_file


def test_every_format_round_trips(tmp_path):
    rows = np.arange(24, dtype=np.float32).reshape(8, 3)
    np.save(tmp_path / "a.npy", rows)
    np.savez(tmp_path / "b.npz", x=rows, y=np.arange(8))
    torch.save({"x": torch.from_numpy(rows)}, tmp_path / "c.pt")
    np.savetxt(tmp_path / "d.csv", rows, delimiter=",", header="p,q,r", comments="")
    assert torch.equal(load_data_file(tmp_path / "a.npy"), torch.from_numpy(rows))
    both = load_data_file(tmp_path / "b.npz")
    assert set(both) == {"x", "y"} and both["y"].dtype == torch.int64  # integers kept
    assert torch.equal(load_data_file(tmp_path / "c.pt"), torch.from_numpy(rows))  # one array
    assert torch.equal(load_data_file(tmp_path / "d.csv"), torch.from_numpy(rows))  # header


def test_float64_becomes_the_default_dtype_and_splits_are_seeded(tmp_path):
    np.save(tmp_path / "rows.npy", np.random.default_rng(0).normal(size=(50, 2)))
    data = load_dataset("file", path=str(tmp_path / "rows.npy"))
    assert data.train.dtype == torch.float32
    assert (len(data.train), len(data.val), len(data.test)) == (40, 5, 5)
    again = load_dataset("file", path=str(tmp_path / "rows.npy"))
    assert torch.equal(data.test, again.test)
    all_rows = torch.cat([data.train, data.val, data.test]).sort(0).values
    assert torch.equal(all_rows, load_data_file(tmp_path / "rows.npy").sort(0).values)


def test_named_splits_are_used_as_given(tmp_path):
    arrays = {k: np.full((n, 2), i, dtype=np.float32) for i, (k, n) in
              enumerate([("train", 6), ("val", 2), ("test", 3)])}  # fmt: skip
    np.savez(tmp_path / "splits.npz", **arrays)
    data = load_dataset("file", path=str(tmp_path / "splits.npz"))
    assert (len(data.train), len(data.val), len(data.test)) == (6, 2, 3)
    assert float(data.test[0, 0]) == 2.0


class Payload:
    """Unpickling this would run code."""

    ran = False

    def __reduce__(self):
        return (setattr, (Payload, "ran", True))


def test_pickled_content_is_refused_and_never_runs(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([Payload()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled arrays are refused"):
        load_data_file(tmp_path / "objects.npy")
    with (tmp_path / "evil.pt").open("wb") as handle:
        pickle.dump({"x": Payload()}, handle)
    with pytest.raises(ValueError, match="not a tensor file ppgen can read safely"):
        load_data_file(tmp_path / "evil.pt")
    assert not Payload.ran


def test_bad_files_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"must end in .npy"):
        load_data_file(tmp_path / "rows.txt")
    with pytest.raises(FileNotFoundError, match="no such data file"):
        load_data_file(tmp_path / "missing.npy")
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    with pytest.raises(ValueError, match="not numeric data"):
        load_data_file(tmp_path / "words.npy")
    np.save(tmp_path / "flat.npy", np.arange(10.0))
    with pytest.raises(ValueError, match=r"\(num_points, num_features\)"):
        load_dataset("file", path=str(tmp_path / "flat.npy"))
