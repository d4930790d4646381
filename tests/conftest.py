"""Shared fixtures: seeding, the Agg backend, skipping GPU tests without CUDA, and kills at
chosen training steps."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pyro  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_clean():
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    yield
    plt.close("all")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


class KilledAtStep(Exception):
    """Stands for a kill (SIGKILL, a pre-empted job) at a chosen training step."""


@pytest.fixture
def kill_at_steps(monkeypatch):
    """``kill_at_steps({3, 17})``: the model steps with these numbers (counted from 1 over the
    whole test) raise :class:`KilledAtStep` instead of running; returns that class."""
    from ppgen.training.step import Stepper

    real_step, taken = Stepper.model_step, [0]

    def install(steps):
        def step_or_die(self, *args):
            taken[0] += 1
            if taken[0] in steps:
                raise KilledAtStep(f"killed at step {taken[0]}")
            return real_step(self, *args)

        monkeypatch.setattr(Stepper, "model_step", step_or_die)
        return KilledAtStep

    return install
