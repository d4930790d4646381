"""Adding a data set is this one file: its loader is defined and registered here, nothing else
edited, and it is in ``ppgen list``, keeps the registry-driven data-set contract, loads with the
generic preprocessing it declares, trains a model through ``fit``, and the command line fits a
Bernoulli model on it with the binarization it declares applies (``quantized_image``).

The data set: 4x4 images of a bright square at one of four corners, pixel levels 0..3, with
the corner as the label.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from ppgen import SigmoidBeliefNet, fit, load_dataset
from ppgen.cli import main
from ppgen.data import Dataset
from ppgen.registry import DATASETS

NAME = "corners"


def load_corners(num_train: int = 200, seed: int = 0) -> Dataset:
    """Bright 2x2 squares in the corners of 4x4 images, levels 0..3 (a test's own data set)."""
    generator = torch.Generator().manual_seed(seed)
    total = num_train + 100
    labels = torch.randint(0, 4, (total,), generator=generator)
    images = torch.randint(0, 2, (total, 4, 4), generator=generator).float()  # dim noise
    for corner, (row, col) in enumerate([(0, 0), (0, 2), (2, 0), (2, 2)]):
        images[labels == corner, row : row + 2, col : col + 2] = 3.0
    x = images.reshape(total, 16)
    cut = [num_train, num_train + 50]
    return Dataset(
        NAME, x[: cut[0]], x[cut[0] : cut[1]], x[cut[1] :],
        train_labels=labels[: cut[0]], val_labels=labels[cut[0] : cut[1]],
        test_labels=labels[cut[1] :], values="levels", image_shape=(4, 4), num_levels=4,
        num_classes=4,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def registered():
    with DATASETS.registered(NAME, load_corners, quantized_image=True):
        yield


def test_it_is_listed(capsys):
    assert main(["list"]) == 0
    assert f"{NAME:16s} Bright 2x2 squares in the corners" in capsys.readouterr().out


def test_the_registry_driven_contract_checks_it(tmp_path):
    path = Path(__file__).parent / "test_contract.py"
    spec = importlib.util.spec_from_file_location("data_set_contract", path)
    contract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(contract)
    contract.check_data_set(NAME, tmp_path)


def test_load_dataset_checks_its_options_and_applies_the_preprocessing():
    with pytest.raises(ValueError, match="unknown option.*num_pts.*accepts num_train"):
        load_dataset(NAME, num_pts=3)
    binary = load_dataset(NAME, binarize="threshold")
    assert binary.values == "binary" and set(binary.train.unique().tolist()) == {0.0, 1.0}
    assert binary.meta["binarize"] == "threshold" and binary.image_shape == (4, 4)


def test_fit_learns_the_four_corners():
    """An SBN with 2 binary latents has a code for each corner: its exact test log-likelihood
    beats independent pixels by a wide margin (measured: -3.7 against -8.9 nats)."""
    data = load_dataset(NAME, binarize="threshold")
    p = data.train.mean(0).clamp(1e-3, 1 - 1e-3)
    independent = (data.test * p.log() + (1 - data.test) * (1 - p).log()).sum(1).mean()
    torch.manual_seed(0)
    sbn = SigmoidBeliefNet(16, [2])
    fit(sbn, data, estimator="vimco", steps=800, lr=0.05, progress=False)
    assert float(sbn.log_prob(data.test).mean()) > float(independent) + 3


def test_the_command_line_binarizes_it_for_a_bernoulli_model(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["fit", "sbn", "--data", NAME, "--steps", "20", "--eval-samples", "10"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    assert f"{NAME}: binarize='threshold'" in capsys.readouterr().out
    assert (out / "samples.png").is_file()  # an image data set gets its sample grid
