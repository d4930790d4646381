"""gradient_trajectory: every estimator measured at the same parameters along one training run,
which the measurement does not perturb; on a user's pair as on a ppgen model."""

import pyro
import pyro.distributions as dist
import pytest
import torch

from ppgen import SigmoidBeliefNet, fit, load_dataset
from ppgen.evaluation import gradient_trajectory
from ppgen.plots import plot_gradient_trajectory


def test_measures_every_estimator_at_the_same_steps_without_perturbing_training():
    """Rows at steps 10, 20, 30 for each estimator and group; the trained parameters equal those
    of the same fit without measurement (bit for bit); disarm's guide variance, averaged over the
    steps, is below arm's (DisARM is ARM Rao-Blackwellized; measured ratios 0.79, 0.63, 0.98)."""
    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    sbn = SigmoidBeliefNet(64, [6])
    start = {k: v.clone() for k, v in sbn.state_dict().items()}
    table = gradient_trajectory(
        sbn, data, "trace", ["arm", "disarm", "rloo"], steps=30, every=10, num_repeats=40,
        batch_rows=50, lr=0.01, seed=0, progress=False,
    )  # fmt: skip
    assert sorted(table["step"].unique()) == [10, 20, 30]
    assert set(table["estimator"]) == {"arm", "disarm", "rloo"}
    assert (table["trained_with"] == "trace").all()
    guide = table[table["group"] == "guide"].pivot(index="step", columns="estimator",
                                                    values="variance")  # fmt: skip
    assert guide["disarm"].mean() < guide["arm"].mean(), guide
    again = SigmoidBeliefNet(64, [6])
    again.load_state_dict(start)
    fit(again, data, estimator="trace", steps=30, log_every=10, lr=0.01, seed=0, progress=False)
    for (name, mine), theirs in zip(sbn.state_dict().items(), again.state_dict().values()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0, msg=name)
    ax = plot_gradient_trajectory(table)
    assert len(ax.get_lines()) == 3


def test_on_a_users_pair():
    def model(x):
        w = pyro.param("w", torch.zeros(4))
        with pyro.plate("items", x.shape[0]):
            h = pyro.sample("h", dist.Bernoulli(0.5 * torch.ones(2)).to_event(1))
            pyro.sample("x", dist.Normal(h.sum(-1, keepdim=True) * w, 1.0).to_event(1), obs=x)

    def guide(x):
        a = pyro.param("a", torch.zeros(4, 2))
        with pyro.plate("items", x.shape[0]):
            pyro.sample("h", dist.Bernoulli(logits=x @ a).to_event(1))

    x = torch.randn(40, 4)
    table = gradient_trajectory((model, guide), x, "rloo", ["disarm", "trace"], steps=4,
                                every=2, num_repeats=5, num_particles={"rloo": 2},
                                progress=False)  # fmt: skip
    assert sorted(table["step"].unique()) == [2, 4]
    assert set(table["group"]) == {"model", "guide"}
    with pytest.raises(ValueError, match="every must be a positive int"):
        gradient_trajectory((model, guide), x, every=0)
    with pytest.raises(ValueError, match="unknown|no estimator|not registered"):
        gradient_trajectory((model, guide), x, measure=["disarm", "rebarr"], steps=2)
    with pytest.raises(ValueError, match="batch_rows must be a positive int"):
        gradient_trajectory((model, guide), x, batch_rows=0)
