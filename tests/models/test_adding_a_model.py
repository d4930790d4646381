"""Adding a model is this one file: defined and registered here, nothing else edited, it is in
``ppgen list``, the registry-driven contract tests and the compiled-path test check it, ``fit``
trains it, and the command line fits it by name into a run folder.

The model: one Gaussian factor, ``z ~ N(0, 1)``, ``x ~ N(w z + b, s^2 I)``, with an amortized
linear guide. Its marginal is exact, ``N(b, w w^T + s^2 I)``, and at the optimum ``b`` is the
data mean.
"""

import importlib.util
from pathlib import Path

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.nn import PyroParam

from ppgen import fit, load_dataset
from ppgen.cli import main
from ppgen.evaluation import log_likelihood
from ppgen.models import GenerativeModel, get_model
from ppgen.registry import MODELS

NAME = "one_factor"


class OneFactor(GenerativeModel):
    """One Gaussian factor with an amortized linear guide (a test's own model)."""

    traceable = True
    example_options = {}

    def __init__(self, data_dim: int, *, name=None):
        super().__init__(data_dim, name=name)
        self.w = torch.nn.Parameter(torch.randn(data_dim) * 0.1)
        self.b = torch.nn.Parameter(torch.zeros(data_dim))
        self.log_s = torch.nn.Parameter(torch.zeros(()))
        self.encoder = torch.nn.Linear(data_dim, 2)
        self.min_scale = PyroParam(torch.tensor(1e-3), constraint=dist.constraints.positive)

    def model(self, x):
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            z = pyro.sample("z", dist.Normal(x.new_zeros(()), 1.0))
            mean = z.unsqueeze(-1) * self.w + self.b
            pyro.sample("x", dist.Normal(mean, self.log_s.exp()).to_event(1), obs=x)

    def guide(self, x):
        loc, log_scale = self.encoder(x).unbind(-1)
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            pyro.sample("z", dist.Normal(loc, log_scale.exp() + self.min_scale))

    def log_prob(self, x):
        covariance = torch.outer(self.w, self.w) + self.log_s.exp() ** 2 * torch.eye(self.data_dim)
        return dist.MultivariateNormal(self.b, covariance).log_prob(x)


@pytest.fixture(autouse=True)
def registered():
    with MODELS.registered(NAME, OneFactor):
        yield


def load_tests(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, Path(__file__).parent / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_is_listed(capsys):
    assert main(["list"]) == 0
    assert (
        f"{NAME:16s} One Gaussian factor with an amortized linear guide" in capsys.readouterr().out
    )
    assert get_model(NAME) is OneFactor


def test_the_registry_driven_contract_checks_it():
    contract = load_tests("test_contract.py")
    for check in (
        contract.test_sample_shapes_and_dtype,
        contract.test_gradients_reach_every_parameter,
        contract.test_plates_are_declared,
        contract.test_log_prob_shape_where_exact,
        contract.test_bad_input_is_refused,
    ):
        check(NAME)


def test_the_compiled_step_follows_the_eager_one():
    compiled = load_tests("../training/test_compiled.py")
    data = load_dataset("linear_gaussian", data_dim=6, latent_dim=1, num_train=200).train
    eager = compiled.train(NAME, data, "trace", False)
    traced = compiled.train(NAME, data, "trace", True)
    assert traced.compiled and not eager.compiled
    torch.testing.assert_close(
        torch.tensor(traced.history["loss"].values), torch.tensor(eager.history["loss"].values),
        rtol=compiled.TRAJECTORY_RTOL, atol=0,
    )  # fmt: skip


def test_fit_trains_it_to_the_data_mean_and_its_exact_marginal_holds():
    data = load_dataset("linear_gaussian", data_dim=4, latent_dim=1, num_train=2000)
    torch.manual_seed(0)
    model = OneFactor(4)
    fit(model, data, steps=1500, lr=0.03, batch_size=None, progress=False)
    assert torch.allclose(model.b.detach(), data.train.mean(0), atol=0.05), model.b
    exact = model.log_prob(data.test[:50]).detach()
    estimate = log_likelihood(model, data.test[:50], num_samples=2000)
    assert (estimate <= exact + 0.02).all()  # a lower bound in expectation, k large
    assert float((exact - estimate).mean()) < 0.05, float((exact - estimate).mean())


def test_the_command_line_fits_it_by_name(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["fit", NAME, "--data", "linear_gaussian", "--steps", "30", "--eval-samples", "0"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    assert (out / "model.pt").is_file() and (out / "metrics.csv").is_file()
    assert "exact" in (out / "metrics.csv").read_text()
