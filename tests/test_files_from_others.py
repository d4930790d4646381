"""Files from others never run code (issue 15): a pickle payload planted in every kind of file
ppgen reads (checkpoints, a run folder's model.pt, data files, MNIST archives) is refused with a
message naming the file, and its marker never appears. A run folder's config.json may name only
what ppgen can read safely (ppgen/run_folder.py)."""

import hashlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ppgen import PPCA, fit, load_dataset
from ppgen.cli import main
from ppgen.runs.folder import load_run
from ppgen.training.checkpoint import MAGIC, load_checkpoint


class Payload:
    """Unpickling this calls ``Path.touch(marker)``: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = Path(marker)

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def plant_checkpoint(path: Path, marker: Path) -> Path:
    """ppgen's checkpoint format with a valid checksum around a payload that runs code: only the
    safe unpickler stands between it and the marker."""
    buffer = io.BytesIO()
    torch.save({"format": "ppgen-training-state-1", "step": Payload(marker)}, buffer)
    payload = buffer.getvalue()
    path.write_bytes(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    return path


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "code-ran"
    yield path
    assert not path.exists(), "the payload ran"


@pytest.fixture(scope="module")
def lg():
    return load_dataset("linear_gaussian", data_dim=4, latent_dim=1, num_train=40)


def test_a_planted_checkpoint_never_runs_through_fit(tmp_path, marker, lg):
    path = plant_checkpoint(tmp_path / "run.ckpt", marker)
    with pytest.raises(ValueError, match=f"{path}.*refused without running it"):
        fit(PPCA(4, 1), lg, steps=5, checkpoint=path, progress=False)


def test_a_raw_torch_pickle_is_not_a_checkpoint(tmp_path, marker):
    path = tmp_path / "old.ckpt"
    torch.save({"format": "ppgen-checkpoint-1", "step": Payload(marker)}, path)
    with pytest.raises(ValueError, match="is not a ppgen checkpoint"):
        load_checkpoint(path)


def finished_run(tmp_path) -> Path:
    out = tmp_path / "run"
    args = ["fit", "ppca", "--data", "linear_gaussian", "--steps", "5", "--eval-samples", "0"]
    assert main([*args, "--data-option", "num_train=40", "--out", str(out), "--no-progress"]) == 0
    return out


def test_a_planted_model_pt_never_runs_through_evaluate(tmp_path, marker, capsys):
    out = finished_run(tmp_path)
    torch.save({"W": Payload(marker)}, out / "model.pt")
    config = json.loads((out / "config.json").read_text())
    config["sha256"]["model.pt"] = hashlib.sha256((out / "model.pt").read_bytes()).hexdigest()
    (out / "config.json").write_text(json.dumps(config))  # the attacker fixes the checksum too
    assert main(["evaluate", str(out), "--num-samples", "5"]) == 2
    assert "refused without running it" in capsys.readouterr().err


def test_a_changed_model_pt_is_refused_by_its_checksum(tmp_path):
    out = finished_run(tmp_path)
    torch.save(PPCA(4, 1).state_dict(), out / "model.pt")
    with pytest.raises(ValueError, match="model.pt is damaged or changed"):
        load_run(out)


@pytest.mark.parametrize("suffix", [".pt", ".npy", ".npz"])
def test_planted_data_files_never_run(tmp_path, marker, suffix):
    path = tmp_path / f"rows{suffix}"
    if suffix == ".pt":
        torch.save({"x": Payload(marker)}, path)
    elif suffix == ".npy":
        np.save(path, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    else:
        np.savez(path, x=np.array([Payload(marker)], dtype=object))
    with pytest.raises(ValueError, match=str(path.name)):
        load_dataset("file", path=str(path))


def test_a_planted_mnist_archive_never_runs(tmp_path, marker):
    path = tmp_path / "mnist.npz"
    objects = np.array([Payload(marker)], dtype=object)
    np.savez(path, x_train=objects, y_train=objects, x_test=objects, y_test=objects)
    with pytest.raises(ValueError, match="mnist.npz"):
        load_dataset("mnist", path=path)


def test_a_pickle_named_like_a_data_file_never_runs(tmp_path, marker):
    path = tmp_path / "rows.pt"
    with open(path, "wb") as file:
        pickle.dump({"x": Payload(marker)}, file)
    with pytest.raises(ValueError, match="rows.pt"):
        load_dataset("file", path=str(path))


def test_a_run_folder_naming_model_code_is_refused_unless_trusted(tmp_path, capsys):
    """A config.json naming a Python file would run it on load: refused by default."""
    out = finished_run(tmp_path)
    code = tmp_path / "evil.py"
    code.write_text(f"open({str(tmp_path / 'code-ran')!r}, 'w').close()\n")
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "model": f"{code}:PPCA"}))
    assert main(["evaluate", str(out), "--num-samples", "5"]) == 2
    assert "--trust-model-code" in capsys.readouterr().err
    assert not (tmp_path / "code-ran").exists()


def test_a_run_folder_whose_data_file_changed_is_refused(tmp_path):
    rows = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    np.save(tmp_path / "rows.npy", rows)
    out = tmp_path / "run"
    args = ["fit", "ppca", "--data", str(tmp_path / "rows.npy"), "--steps", "5", "--out", str(out)]
    assert main([*args, "--eval-samples", "0", "--no-progress", "--latent-dim", "1"]) == 0
    assert load_run(out)[1].num_features == 3  # unchanged: loads
    np.save(tmp_path / "rows.npy", rows + 1)
    with pytest.raises(ValueError, match="rows.npy changed since the run"):
        load_run(out)


@pytest.mark.parametrize(
    "config, words",
    [
        ({"data": "digits"}, "has no 'model' name"),
        ({"model": "ppca"}, "has no 'data' name"),
        ({"model": "ppca", "data": "digits", "model_options": [1]}, "must be a JSON object"),
        ("[1, 2]", "must hold a JSON object"),
        ("{not json", "not readable JSON"),
    ],
)
def test_a_broken_config_is_named_not_a_traceback(tmp_path, capsys, config, words):
    out = finished_run(tmp_path)
    text = config if isinstance(config, str) else json.dumps(config)
    (out / "config.json").write_text(text)
    assert main(["analyze", str(out), "--num-samples", "25"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
