"""Checkpoints (issue 15): a damaged file is refused by its checksum, another architecture is
named, unwritable outputs are refused before training, a failed write keeps the previous
checkpoint and leaves no temporary file, and a run killed at random steps resumes exactly."""

import random

import pytest
import torch

from ppgen import PPCA, VAE, FactorAnalysis, fit, load_dataset
from ppgen.training import checkpoint as checkpoint_module
from ppgen.training.checkpoint import CheckpointWriteError, load_checkpoint
from ppgen.training.step import Stepper


@pytest.fixture(scope="module")
def lg():
    return load_dataset("linear_gaussian", data_dim=6, latent_dim=2, num_train=200)


def run(model, data, path, **options):
    settings = dict(steps=20, lr=0.01, log_every=5, checkpoint_every=5, progress=False)
    return fit(model, data, checkpoint=path, **{**settings, **options})


def test_one_flipped_byte_is_refused_naming_the_file(tmp_path, lg):
    path = tmp_path / "run.ckpt"
    run(PPCA(6, 2), lg, path)
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01  # one bit, in the middle of the payload
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match=f"checkpoint {path} is damaged: its sha256"):
        run(PPCA(6, 2), lg, path)


def test_a_truncated_or_foreign_file_is_refused(tmp_path, lg):
    path = tmp_path / "run.ckpt"
    run(PPCA(6, 2), lg, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="damaged"):
        load_checkpoint(path)
    path.write_bytes(b"\x00" * 300)
    with pytest.raises(ValueError, match="not a ppgen checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "other, words",
    [
        (
            lambda: FactorAnalysis(6, 2),
            "the model is ppgen.models.ppca.PPCA there, .*FactorAnalysis",
        ),
        (lambda: PPCA(6, 3), r"options differ \(latent_dim=2 there, 3 here\)"),
        (lambda: VAE(6, 2, likelihood="gaussian"), "the model is ppgen.models.ppca.PPCA there"),
    ],
)
def test_another_architecture_is_named(tmp_path, lg, other, words):
    path = tmp_path / "run.ckpt"
    run(PPCA(6, 2), lg, path)
    with pytest.raises(ValueError, match=f"another architecture: {words}"):
        run(other(), lg, path)


def test_a_plain_pair_with_other_parameter_shapes_is_named(tmp_path):
    import pyro
    import pyro.distributions as dist

    def pair(size):
        def model(x):
            loc = pyro.param("loc", torch.zeros(size))
            with pyro.plate("data", len(x)):
                pyro.sample("x", dist.Normal(loc.sum(), 1.0), obs=x)

        return model, lambda x: None

    x = torch.randn(50)
    path = tmp_path / "pair.ckpt"
    run(pair(2), x, path)
    pyro.clear_param_store()
    with pytest.raises(ValueError, match=r"param.loc: \(2,\) there, \(3,\) here"):
        run(pair(3), x, path)


def test_unwritable_checkpoints_are_refused_before_training(tmp_path, lg, monkeypatch):
    steps = []
    monkeypatch.setattr(Stepper, "model_step", lambda *a: steps.append(1))
    (tmp_path / "folder.ckpt").mkdir()
    with pytest.raises(CheckpointWriteError, match="is a folder"):
        run(PPCA(6, 2), lg, tmp_path / "folder.ckpt")
    (tmp_path / "file").write_text("")
    with pytest.raises(CheckpointWriteError, match="cannot write the checkpoint"):
        run(PPCA(6, 2), lg, tmp_path / "file" / "run.ckpt")  # a file where a folder must be
    # A folder without write permission (root writes anyway, so the refusal is also forced).
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        if _can_write(read_only):
            real_write = type(read_only).write_bytes

            def denied(self, data):
                if self.parent == read_only:
                    raise PermissionError(13, "Permission denied")
                return real_write(self, data)

            monkeypatch.setattr(type(read_only), "write_bytes", denied)
        with pytest.raises(CheckpointWriteError, match="cannot write the checkpoint.*denied"):
            run(PPCA(6, 2), lg, read_only / "run.ckpt")
    finally:
        read_only.chmod(0o700)
    assert steps == []  # no step ran


def _can_write(folder) -> bool:
    try:
        (folder / "probe").write_text("")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


def test_a_failed_write_keeps_the_previous_checkpoint_and_no_temporary_file(
    tmp_path, lg, monkeypatch
):
    """A full disk on the second checkpoint (step 10): the error says what failed, the step-5
    checkpoint is intact and loads, and no .tmp file is left."""
    path = tmp_path / "run.ckpt"
    real_fsync, calls = checkpoint_module.os.fsync, []

    def full_disk(descriptor):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(checkpoint_module.os, "fsync", full_disk)
    with pytest.raises(CheckpointWriteError, match="No space left on device.*previous checkpoint"):
        run(PPCA(6, 2), lg, path)
    assert load_checkpoint(path)["step"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kills_at_random_steps_resume_to_the_uninterrupted_run(tmp_path, seed, kill_at_steps):
    """Killed at three random steps (seeded), resumed each time from the last checkpoint: the
    final parameters and history equal those of a run that never stopped."""
    data = load_dataset("digits", binarize="dynamic")
    settings = dict(steps=40, batch_size=64, log_every=2, checkpoint_every=4, seed=seed)

    def new_model():
        torch.manual_seed(seed)
        return VAE(64, 2, hidden_dims=[16])

    expected_model = new_model()
    expected = fit(expected_model, data, progress=False, lr=0.01, **settings)

    killed = kill_at_steps(set(random.Random(seed).sample(range(2, 40), 3)))
    path, model, attempts = tmp_path / "run.ckpt", None, 0
    while True:
        attempts += 1
        model = new_model()
        try:
            resumed = fit(model, data, progress=False, lr=0.01, checkpoint=path, **settings)
            break
        except killed:
            continue
    assert attempts == 4
    for key, value in expected_model.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    assert resumed.history["loss"].tolist() == expected.history["loss"].tolist()
