"""Contract over every registered estimator: each trains, by name through fit(), both a user's own
plain Pyro model/guide functions and a ppgen model, and reports its name in the history."""

import pytest
import torch

from ppgen import SigmoidBeliefNet, fit, load_dataset
from ppgen.inference import available_estimators

ESTIMATORS = sorted(available_estimators())
# Multi-sample estimators need (or are meant for) several particles.
PARTICLES = {"vimco": 5, "rws": 5, "iwae": 5, "dreg": 5}
DISCRETE_CAPABLE = [e for e in ESTIMATORS if e not in ("iwae", "dreg", "meanfield")]


@pytest.mark.parametrize("name", ESTIMATORS)
def test_trains_a_users_plain_functions_by_name(name, normal_pair):
    """The MLE of the prior mean is the data mean (3, -1): every estimator gets within 0.25."""
    torch.manual_seed(0)
    x = torch.randn(300, 2) + torch.tensor([3.0, -1.0])
    result = fit(
        normal_pair,
        x,
        estimator=name,
        num_particles=PARTICLES.get(name, 1),
        steps=600,
        lr=0.03,
        batch_size=None,
        progress=False,
    )
    assert result.objective == name
    assert torch.allclose(result.params["loc"], x.mean(0), atol=0.25), result.params["loc"]


@pytest.mark.parametrize("name", DISCRETE_CAPABLE + ["tracegraph+nvil", "tracegraph+decaying"])
def test_trains_a_sigmoid_belief_net_by_name(name):
    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    sbn = SigmoidBeliefNet(64, [4])
    before = float(sbn.log_prob(data.val).mean())
    result = fit(
        sbn,
        data,
        estimator=name,
        num_particles=PARTICLES.get(name, 1),
        steps=150,
        lr=0.01,
        progress=False,
    )
    assert result.objective == name
    assert float(sbn.log_prob(data.val).mean()) > before + 3
