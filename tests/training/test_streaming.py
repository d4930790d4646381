"""Streaming data that does not fit in memory: ``NpyRows`` and ``fit`` on a ``DataLoader``.

Streamed training visits the rows in ppgen's seeded order, so it must give the same parameters as
training on the same rows as a tensor (bit for bit, eager on both sides), with or without loader
workers; a killed streamed run resumes bit-identical; bad files are refused before training.
Peak memory against file size is measured by ``benchmarks/streaming_memory.py``.
"""

from __future__ import annotations

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import ppgen
from ppgen.data import NpyRows
from ppgen.models import PPCA


def fresh_pair():
    """A new user's pair (each fit of a new pair starts from its own initial values)."""

    def model(x):
        loc = pyro.param("loc", torch.zeros(x.shape[1]))
        with pyro.plate("rows", x.shape[0]):
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)

    def guide(x):
        pass

    return model, guide


@pytest.fixture
def npy_file(tmp_path):
    rng = np.random.default_rng(0)
    values = (rng.normal(size=(300, 5)) + np.arange(5)).astype(np.float32)
    path = tmp_path / "rows.npy"
    np.save(path, values)
    return path, torch.from_numpy(values)


def test_npy_rows_reads_the_rows_asked_for_in_any_order(npy_file):
    path, values = npy_file
    rows = NpyRows(path)
    assert len(rows) == 300 and rows.shape == (300, 5)
    assert torch.equal(rows.read([7, 2, 299, 2]), values[[7, 2, 299, 2]])
    assert torch.equal(rows[3], values[3])
    with pytest.raises(IndexError, match="out of range"):
        rows.read([300])


@pytest.mark.parametrize(
    "array, message",
    [
        (np.array([{"a": 1}, None], dtype=object), "Python objects"),
        (np.asfortranarray(np.ones((4, 3))), "Fortran order"),
        (np.zeros((0, 3)), "no rows"),
        (
            np.array([[1.0, np.nan], [0.0, 1.0]]),
            r"NaN or infinite values, the first at index \(0, 1\)",
        ),
        (np.array(["a", "b"]), "dtype <U1"),
    ],
)
def test_npy_rows_refuses_bad_files_before_training(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array, allow_pickle=True)
    with pytest.raises(ValueError, match=message):
        NpyRows(path)


def test_npy_rows_refuses_what_is_not_a_npy_file(tmp_path):
    path = tmp_path / "text.npy"
    path.write_text("not numpy")
    with pytest.raises(ValueError, match="not a NumPy .npy file"):
        NpyRows(path)


@pytest.mark.parametrize("form", ["rows", "loader", "workers"])
def test_streamed_training_equals_training_on_the_tensor(npy_file, form):
    path, values = npy_file
    options = dict(steps=30, batch_size=32, lr=0.05, progress=False, compile=False, seed=3)
    in_memory = ppgen.fit(fresh_pair(), values, **options)
    data = {
        "rows": NpyRows(path),
        "loader": DataLoader(NpyRows(path), batch_size=32),
        "workers": DataLoader(NpyRows(path), batch_size=32, num_workers=2, prefetch_factor=2),
    }[form]
    streamed = ppgen.fit(fresh_pair(), data, **options)
    assert torch.equal(in_memory.params["loc"], streamed.params["loc"])
    assert in_memory.history["loss"].tolist() == streamed.history["loss"].tolist()


def test_a_killed_streamed_run_resumes_bit_identical(npy_file, tmp_path, kill_at_steps):
    path, _ = npy_file
    options = dict(steps=40, batch_size=32, lr=0.05, progress=False, compile=False, log_every=5)
    pair = fresh_pair()
    whole = ppgen.fit(pair, DataLoader(NpyRows(path), batch_size=32), **options)
    killed = kill_at_steps({23})
    checkpoint = tmp_path / "run.pt"
    resumed_pair = fresh_pair()
    with pytest.raises(killed):
        ppgen.fit(
            resumed_pair,
            DataLoader(NpyRows(path), batch_size=32),
            checkpoint=checkpoint,
            checkpoint_every=10,
            **options,
        )
    resumed = ppgen.fit(
        resumed_pair,
        DataLoader(NpyRows(path), batch_size=32),
        checkpoint=checkpoint,
        checkpoint_every=10,
        **options,
    )
    assert torch.equal(whole.params["loc"], resumed.params["loc"])
    assert whole.history["loss"].tolist() == resumed.history["loss"].tolist()


class DictRows(Dataset):
    """A user's map-style Dataset of dicts: keyword arguments of the program."""

    def __init__(self, x, scale):
        self.x, self.scale = x, scale

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "scale": self.scale[i]}


def users_dict_pair():
    def model(x, scale):
        loc = pyro.param("loc", torch.zeros(x.shape[1]))
        with pyro.plate("points", x.shape[0]):
            pyro.sample("x", dist.Normal(loc, scale[:, None]).to_event(1), obs=x)

    def guide(x, scale):
        pass

    return model, guide


def test_a_users_dataset_of_dicts_streams_as_keyword_arguments(npy_file):
    _, values = npy_file
    scale = torch.linspace(0.5, 2.0, len(values))
    options = dict(steps=40, batch_size=50, lr=0.05, progress=False, compile=False)
    loader = DataLoader(DictRows(values, scale), batch_size=50)
    streamed = ppgen.fit(users_dict_pair(), loader, **options)
    in_memory = ppgen.fit(users_dict_pair(), {"x": values, "scale": scale}, **options)
    assert torch.equal(streamed.params["loc"], in_memory.params["loc"])


def test_a_ppca_streams_with_its_own_data_checks(npy_file, tmp_path):
    path, values = npy_file
    options = dict(steps=50, batch_size=64, lr=0.03, progress=False, compile=False)
    torch.manual_seed(0)
    streamed = PPCA(5, 2).init_from_data(values)
    torch.manual_seed(0)
    in_memory = PPCA(5, 2).init_from_data(values)
    ppgen.fit(streamed, DataLoader(NpyRows(path), batch_size=64), **options)
    ppgen.fit(in_memory, values, **options)
    for name, value in in_memory.state_dict().items():
        assert torch.equal(streamed.state_dict()[name], value), name
    wide = tmp_path / "wide.npy"
    np.save(wide, np.ones((10, 7), dtype=np.float32))
    with pytest.raises(ValueError, match="7"):
        ppgen.fit(streamed, DataLoader(NpyRows(wide), batch_size=4), steps=2, progress=False)


class NaNAfter(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        return torch.tensor([float("nan") if i == 40 else 1.0])


def test_streamed_data_is_checked_batch_by_batch_and_needs_minibatches(npy_file):
    with pytest.raises(ValueError, match="NaN"):
        ppgen.fit(fresh_pair(), DataLoader(NaNAfter(), batch_size=8), steps=20, progress=False)
    path, _ = npy_file
    with pytest.raises(ValueError, match="streamed.*batch_size=B"):
        ppgen.fit(fresh_pair(), NpyRows(path), batch_size=None, steps=2, progress=False)
