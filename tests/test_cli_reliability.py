"""The CLI under faults (issue 15): a killed `ppgen fit --checkpoint` resumes when re-run and ends
where an uninterrupted run ends; a different command in that folder is refused by name; unwritable
outputs are refused before training; a failed command leaves no run folder; a user's error is one
line, never a traceback."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from ppgen.cli import main

FIT = ["fit", "ppca", "--data", "linear_gaussian", "--data-option", "num_train=300"]
FIT += ["--latent-dim", "2", "--eval-samples", "0", "--no-progress", "--checkpoint"]


def ppgen(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-c", "import sys; from ppgen.cli import main; sys.exit(main())", *args],
        capture_output=True, text=True, timeout=600, **kwargs,
    )  # fmt: skip


def test_a_killed_run_resumes_when_the_same_command_is_run_again(tmp_path):
    steps = ["--steps", "1500"]
    assert main([*FIT, *steps, "--out", str(tmp_path / "whole")]) == 0
    out = tmp_path / "killed"
    command = [sys.executable, "-c", "import sys; from ppgen.cli import main; sys.exit(main())"]
    job = subprocess.Popen([*command, *FIT, *steps, "--out", str(out)])
    deadline = time.time() + 300
    while not (out / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(job.pid, signal.SIGKILL)  # mid-run, after the first checkpoint
    job.wait()
    assert not (out / "model.pt").exists(), "the run finished before the kill"
    done = ppgen(*FIT, *steps, "--out", str(out))
    assert done.returncode == 0, done.stderr
    whole = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    resumed = torch.load(out / "model.pt", weights_only=True)
    for key, value in whole.items():
        assert torch.equal(value, resumed[key]), key
    histories = [pd.read_csv(folder / "history.csv") for folder in (tmp_path / "whole", out)]
    timeless = [h.drop(columns="wall_time") for h in histories]  # seconds differ, nothing else
    pd.testing.assert_frame_equal(timeless[0], timeless[1], check_exact=True)


def test_another_command_in_a_checkpointed_folder_is_refused_by_name(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main([*FIT, "--steps", "10", "--out", out]) == 0
    assert main([*FIT, "--steps", "10", "--lr", "0.5", "--out", out]) == 2
    assert "other settings (lr: None there, 0.5 now)" in capsys.readouterr().err
    assert main([*FIT[:-1], "--steps", "10", "--out", out]) == 2  # without --checkpoint
    assert "add --checkpoint to resume" in capsys.readouterr().err
    # The data's seed is a setting too: another one would resume on other data.
    assert main([*FIT, "--steps", "10", "--data-seed", "3", "--out", out]) == 2
    assert "other settings (data_seed: 0 there, 3 now)" in capsys.readouterr().err


def test_unwritable_outputs_are_refused_before_training(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    assert main([*FIT, "--steps", "10", "--out", str(tmp_path / "a-file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main([*FIT, "--steps", "10", "--out", str(tmp_path / "a-file" / "run")]) == 2
    assert "cannot write the run folder" in capsys.readouterr().err
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anyway
        assert main([*FIT, "--steps", "10", "--out", str(read_only / "run")]) == 2
        assert "cannot write the run folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, words",
    [
        (["--steps", "-5"], "steps must be a positive int, got -5"),
        (["--steps", "10", "--lr", "0"], "lr must be a positive finite number, got 0.0"),
        (["--steps", "10", "--num-particles", "0"], "num_particles must be a positive int"),
        (["--steps", "10", "--estimator", "rws", "--num-particles", "1"], "rws needs"),
        (["--steps", "10", "--device", "meta"], "device must be 'auto', 'cpu', 'cuda'"),
        (["--steps", "10", "--device", "mps"], "device must be 'auto', 'cpu', 'cuda'"),
        (["--steps", "10", "--seed", "-1"], "seed must be an int from 0 to 2**32 - 1"),
        (["--steps", "10", "--estimator", "trase"], "unknown estimator 'trase'"),
    ],
)
def test_a_failed_command_leaves_no_folder_and_no_traceback(tmp_path, args, words):
    out = tmp_path / "run"
    done = ppgen(*FIT, *args, "--out", str(out))
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()
