"""The zoo (issue 14): users' Pyro programs of many shapes (``tests/zoo_pairs.py``) through ``fit``
with every estimator, ``log_likelihood`` and ``to_inference_data``. Every cell trains or
evaluates, or is refused before training with a :class:`ProgramError` that says why; no other
exception may escape. ``benchmarks/zoo_matrix.py`` records the whole matrix.
"""

import importlib.util
import math
import sys
from pathlib import Path

import pyro
import pytest
import torch

from ppgen import fit
from ppgen.analysis import to_inference_data
from ppgen.evaluation import log_likelihood
from ppgen.program.errors import ProgramError


def load_zoo():
    path = Path(__file__).parents[1] / "zoo_pairs.py"
    spec = importlib.util.spec_from_file_location("ppgen_zoo_pairs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ZOO = load_zoo().ZOO
ESTIMATORS = [
    "trace", "meanfield", "tracegraph", "tracegraph+decaying", "tracegraph+nvil",
    "iwae", "dreg", "vimco", "rws", "enum", "timestep",
    # issue 27's discrete workbench
    "rloo", "arm", "disarm", "rebar", "relax", "concrete", "straight_through", "stl", "renyi",
    "tvo",
]  # fmt: skip
PARTICLES = {"iwae": 3, "dreg": 3, "vimco": 3, "rws": 3, "rloo": 3, "renyi": 3, "tvo": 3}


def run_cell(pair, estimator: str) -> str:
    """'trained' or 'refused: <reason>' for one pair and estimator; raises on anything else."""
    pyro.set_rng_seed(0)
    model, guide, data, options = pair.build()
    try:
        result = fit(
            (model, guide), data, estimator=estimator,
            num_particles=PARTICLES.get(estimator, 1), steps=2, lr=1e-3, progress=False,
            device="cpu", **options,
        )  # fmt: skip
    except ProgramError as error:
        return f"refused: {error}"
    assert result.history["step"].iloc[-1] == 2
    assert math.isfinite(result.final_loss)
    return "trained"


def evaluation_data(data, options):
    """``(x, kwargs)`` for the evaluations: the data's first tensor and the rest as keywords."""
    kwargs = dict(options.get("model_kwargs") or {})
    return data, kwargs


@pytest.mark.parametrize("pair", ZOO, ids=[p.name for p in ZOO])
def test_every_estimator_trains_or_refuses_with_a_reason(pair):
    outcomes = {name: run_cell(pair, name) for name in ESTIMATORS}
    for name, outcome in outcomes.items():
        if outcome.startswith("refused"):
            assert len(outcome) > 30, (name, outcome)
    # The plain Monte Carlo ELBO is Pyro's Trace_ELBO: every program trains with it, except one
    # whose model has latents marked for enumeration that the guide leaves out (LDA): only
    # enum sums those out, and it trains.
    expected = "enum" if "model_enumerated" in pair.tags else "trace"
    assert outcomes[expected] == "trained", outcomes[expected]
    # The random-timestep ELBO needs a diffusion model: every user's pair is refused with a
    # reason (its own, where an earlier requirement fails first, as LDA's enumerated latents).
    assert outcomes["timestep"].startswith("refused"), outcomes["timestep"]


@pytest.mark.parametrize("pair", ZOO, ids=[p.name for p in ZOO])
def test_log_likelihood_and_inference_data_evaluate_or_refuse(pair):
    pyro.set_rng_seed(0)
    model, guide, data, options = pair.build()
    kwargs = dict(options.get("model_kwargs") or {})
    try:
        estimate = log_likelihood((model, guide), data, num_samples=4, **kwargs)
        assert torch.isfinite(estimate).all()
    except ProgramError as error:
        assert str(error)
    try:
        idata = to_inference_data((model, guide), data, num_samples=4, **kwargs)
        assert "log_likelihood" in idata.children
    except ProgramError as error:
        assert str(error)
