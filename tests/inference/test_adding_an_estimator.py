"""Adding an estimator is this one file: defined and registered here, nothing else edited, it is
in ``ppgen list``, the registry-driven contract tests train it, ``fit`` takes it by name, and its
declared needs are checked before the first step.

The estimator: the Monte Carlo ELBO with particles drawn one at a time (Pyro's ``Trace_ELBO``
with ``vectorize_particles=False``), declaring that it needs latents inside the data plate.
"""

import importlib.util
from pathlib import Path

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import Trace_ELBO

from ppgen import fit
from ppgen.cli import main
from ppgen.inference import Estimator, get_estimator
from ppgen.program.errors import ProgramError
from ppgen.registry import ESTIMATORS

NAME = "sequential-trace"


class SequentialTrace(Estimator):
    """Monte Carlo ELBO, particles one at a time (a test's own estimator)."""

    name = NAME
    needs_local_latents = True

    def __init__(self, num_particles: int = 1, max_plate_nesting: int | None = None):
        self.num_particles = self.check_num_particles(num_particles)
        self.elbo = Trace_ELBO(
            num_particles=num_particles,
            vectorize_particles=False,
            max_plate_nesting=float("inf") if max_plate_nesting is None else max_plate_nesting,
        )

    def __call__(self, model, guide, *args, **kwargs):
        return self.elbo.differentiable_loss(model, guide, *args, **kwargs)


@pytest.fixture(autouse=True)
def registered():
    with ESTIMATORS.registered(NAME, SequentialTrace):
        yield


def contract_tests():
    path = Path(__file__).parent / "test_contract.py"
    spec = importlib.util.spec_from_file_location("estimator_contract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_is_listed(capsys):
    assert main(["list"]) == 0
    assert f"{NAME:16s} Monte Carlo ELBO, particles one at a time" in capsys.readouterr().out


def test_the_registry_driven_contract_trains_it(normal_pair):
    contract = contract_tests()
    contract.test_trains_a_users_plain_functions_by_name(NAME, normal_pair)
    contract.test_trains_a_sigmoid_belief_net_by_name(NAME)


def test_fit_builds_it_by_name_with_its_options(normal_pair):
    estimator = get_estimator(NAME, num_particles=3)
    assert isinstance(estimator, SequentialTrace) and estimator.num_particles == 3
    with pytest.raises(ValueError, match="takes no option.*baseline"):
        get_estimator(NAME, baseline="nvil")
    torch.manual_seed(0)
    x = torch.randn(200, 2) + torch.tensor([3.0, -1.0])
    result = fit(normal_pair, x, estimator=NAME, num_particles=2, steps=400, lr=0.03,
                 batch_size=None, progress=False)  # fmt: skip
    assert result.objective == NAME
    assert torch.allclose(result.params["loc"], x.mean(0), atol=0.25), result.params["loc"]


def test_its_declared_need_refuses_a_program_before_training():
    """No latent inside the data plate: refused by the declaration, naming the estimator."""

    def model(x):
        loc = pyro.sample("loc", dist.Normal(0.0, 10.0))
        with pyro.plate("data", len(x)):
            pyro.sample("x", dist.Normal(loc, 1.0), obs=x)

    def guide(x):
        mean = pyro.param("mean", torch.tensor(0.0))
        pyro.sample("loc", dist.Normal(mean, 0.1))

    with pytest.raises(ProgramError, match=f"{NAME} needs latents inside the data plate"):
        fit((model, guide), torch.randn(20), estimator=NAME, steps=3, progress=False)
    assert fit((model, guide), torch.randn(20), steps=3, progress=False).objective == "trace"
