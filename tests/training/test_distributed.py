"""Data-parallel training on 2 CPU processes (gloo), started by PyTorch's launcher.

Each launch costs a few seconds of process start-up, so one launch runs several checks; the
programs and per-rank functions live in ``tests/distributed_programs.py`` (they travel by pickle).
What is checked:

- exact equivalence: with the global-batch noise, 2 processes x B rows follow 1 process x 2B rows
  step for step for PPCA (through ``fit(devices=2)``), a VAE and a flow (50 steps; tolerance 1e-5,
  the float32 rounding of summing the batch in two halves);
- every rank ends with identical tensors for every estimator, including ``tracegraph+nvil``,
  ``vimco``, ``rws``, a GAN with two optimizers and a per-row AutoNormal under a subsampled plate;
- each training row is used once per epoch across ranks;
- a run killed on one rank resumes bit-identical to one that never stopped;
- ``log_likelihood`` and ``elbo`` shard points across ranks and return them in order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import ppgen
from ppgen.models import PPCA
from ppgen.training.distributed import Ranks, launch
from ppgen.training.distributed.launch import DistributedRunError

sys.path.insert(0, str(Path(__file__).parents[1]))
import distributed_programs as programs  # noqa: E402

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch.distributed is not available"
)

TOLERANCE = 1e-5


def assert_close_tensors(one: dict, other: dict, atol: float) -> None:
    assert one.keys() == other.keys()
    for name in one:
        torch.testing.assert_close(one[name], other[name], atol=atol, rtol=0, msg=name)


def test_rank_parts_cover_each_global_batch_once_in_order():
    for count in (1, 7, 64, 65):
        parts = [Ranks(r, 3).part(count) for r in range(3)]
        rows = [i for offset, length in parts for i in range(offset, offset + length)]
        assert rows == list(range(count))
        assert max(p[1] for p in parts) - min(p[1] for p in parts) <= 1
    assert Ranks(0, 2).seed(5) == 5 and len({Ranks(r, 4).seed(5) for r in range(4)}) == 4


def test_ppca_on_two_processes_follows_one_process_with_twice_the_batch():
    digits = ppgen.load_dataset("digits")
    options = dict(steps=50, lr=0.01, compile=False, progress=False)
    torch.manual_seed(0)
    one = PPCA(64, 4).init_from_data(digits.train)
    torch.manual_seed(0)
    two = PPCA(64, 4).init_from_data(digits.train)
    single = ppgen.fit(one, digits.train, batch_size=64, **options)
    double = ppgen.fit(
        two, digits.train, batch_size=32, devices=2, distributed_noise="global_batch", **options
    )
    # fit(devices=2) trained the caller's model in place, from rank 0's result.
    assert_close_tensors(one.state_dict(), two.state_dict(), TOLERANCE)
    assert double.history["loss"].tolist() == pytest.approx(
        single.history["loss"].tolist(), rel=1e-6
    )
    assert double.history["epoch"].tolist() == single.history["epoch"].tolist()


@pytest.fixture(scope="module")
def npy_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("rows") / "rows.npy"
    np.save(path, np.random.default_rng(0).normal(size=(96, 3)).astype(np.float32) + 1.0)
    return str(path)


@pytest.fixture(scope="module")
def two_ranks(npy_path, tmp_path_factory):
    """``programs.on_two_ranks`` on each of 2 ranks: ``[rank 0's results, rank 1's]``."""
    checkpoint = tmp_path_factory.mktemp("whole") / "whole.pt"
    return launch(programs.on_two_ranks, 2, npy_path, str(checkpoint))


def test_streamed_data_shards_across_ranks_like_a_global_batch(two_ranks, npy_path):
    # No latent noise in this pair: 2 ranks x 16 rows follow 1 process x 32 rows.
    one = programs.streamed_location(npy_path, 32)
    for rank in two_ranks:
        torch.testing.assert_close(rank["streamed"]["loc"], one["loc"], rtol=0, atol=1e-6)


def test_vae_and_flow_on_two_processes_follow_one_process_with_twice_the_batch(two_ranks):
    one = programs.equivalence_runs(64)
    two = [rank["equivalence"] for rank in two_ranks]
    for name in ("vae", "flow"):
        assert_close_tensors(one[name]["params"], two[0][name]["params"], TOLERANCE)
        assert_close_tensors(two[0][name]["params"], two[1][name]["params"], 0.0)
        assert two[0][name]["loss"] == pytest.approx(one[name]["loss"], rel=1e-5)


@pytest.mark.parametrize(
    "name",
    [
        "trace",
        "tracegraph",
        "tracegraph+nvil",
        "vimco",
        "rws",
        "global-latent",
        "gan",
        "subsampled-autonormal",
        "short-last-batch",
    ],
)
def test_every_rank_ends_with_identical_parameters(two_ranks, name):
    rank0, rank1 = (rank["estimators"][name] for rank in two_ranks)
    assert rank0["params"], "nothing was trained"
    for key in rank0["params"]:
        assert torch.equal(rank0["params"][key], rank1["params"][key]), key
    assert rank0["loss"] == rank1["loss"]  # one history, the same on every rank


def test_each_training_row_is_used_once_per_epoch_across_ranks(two_ranks):
    seen = [rank["rows"] for rank in two_ranks]
    assert sorted(seen[0] + seen[1]) == list(range(96))
    assert len(seen[0]) == len(seen[1]) == 48


def test_evaluation_shards_points_and_gathers_them_in_order(two_ranks):
    one = programs.sharded_evaluation()
    two = [rank["evaluation"] for rank in two_ranks]
    # A flow's log-likelihood is exact: sharding changes nothing.
    torch.testing.assert_close(two[0]["flow"], one["flow"], rtol=0, atol=1e-6)
    torch.testing.assert_close(two[0]["flow"], two[1]["flow"], rtol=0, atol=0)
    # With the exact posterior as guide every log weight is log p(x): the sharded ELBO equals
    # the exact value point by point, in order, on every rank.
    for rank in two:
        torch.testing.assert_close(rank["ppca_elbo"], one["ppca_exact"], rtol=0, atol=2e-3)
    # to_inference_data: each rank analysed its share of the 51 points; joined in order, the
    # exact marginal log-likelihood and the data equal one process's.
    for rank in two:
        analysed, whole = rank["inference_data"], one["inference_data"]
        np.testing.assert_allclose(analysed["log_lik"], whole["log_lik"], rtol=0, atol=1e-4)
        np.testing.assert_array_equal(analysed["observed"], whole["observed"])
        assert analysed["z_shape"] == (1, 20, 51, 3)
        np.testing.assert_array_equal(analysed["plate"], np.arange(51))


def test_a_killed_run_resumes_bit_identical_at_its_world_size(two_ranks, tmp_path):
    uninterrupted = two_ranks[0]["uninterrupted"]
    path = str(tmp_path / "killed.pt")
    with pytest.raises(DistributedRunError, match="rank 1 failed"):
        launch(programs.checkpointed_ppca, 2, path, 30)  # rank 1 dies at step 30
    with pytest.raises(Exception, match="world_size: checkpoint 2, now 1"):
        programs.checkpointed_ppca(path)  # one process cannot take two ranks' random states
    resumed = launch(programs.checkpointed_ppca, 2, path)[0]
    for key, value in uninterrupted["params"].items():
        assert torch.equal(value, resumed["params"][key]), key
    assert uninterrupted["history"].equals(resumed["history"])


def test_torchrun_runs_the_command_line_on_two_processes(tmp_path):
    """``torchrun --nproc-per-node 2 -m ppgen fit``: both processes train, rank 0 alone writes
    one run folder and prints once."""
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "--log-dir", str(tmp_path / "torchrun-logs"),
        "-m", "ppgen", "fit", "ppca", "--data", "digits", "--steps", "30", "--batch-size", "32",
        "--out", str(out), "--no-progress", "--eval-samples", "10",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("run written to") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "torchrun-logs"]
    history = pd.read_csv(out / "history.csv")
    assert history["step"].tolist() == list(range(1, 31))
    assert json.loads((out / "config.json").read_text())["batch_size"] == 32
    assert (out / "model.pt").is_file()
