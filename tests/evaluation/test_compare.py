"""compare: one row per estimator from a shared start, and the known ordering on an enumerable
SBN (Mnih & Rezende 2016): vimco and rws above tracegraph+NVIL, and that above plain trace."""

import math

import pandas as pd
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer.autoguide import AutoNormal

from ppgen import PPCA, SigmoidBeliefNet, compare, load_dataset
from ppgen.evaluation import gradient_stats
from ppgen.program.errors import ProgramError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", binarize="threshold")


def test_known_ordering_of_held_out_exact_log_likelihood(digits):
    """1000 steps each, seed 0, 8 latent bits; measured margins: vimco/rws -20.26,
    tracegraph+nvil -20.67, trace -23.34 nats (benchmarks/sbn_estimators.py, three seeds)."""
    torch.manual_seed(0)
    table = compare(SigmoidBeliefNet(64, [8]), digits, steps=1000, lr=0.01, progress=False)
    ll = table.set_index("estimator")["test_log_lik"]
    assert (table["test_log_lik_method"] == "exact").all()
    assert min(ll["vimco"], ll["rws"]) > ll["tracegraph+nvil"] > ll["trace"]
    assert (
        table.set_index("estimator").loc["trace", "guide_variance"]
        > 100 * table.set_index("estimator").loc["tracegraph+nvil", "guide_variance"]
    )
    assert set(table.attrs["histories"]) == set(ll.index)
    both = pd.concat([table, table])  # plain-data attrs: tables from several runs concatenate
    assert len(both) == 2 * len(table)


def test_every_estimator_starts_from_the_same_parameters(digits):
    torch.manual_seed(0)
    model = SigmoidBeliefNet(64, [4])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    table = compare(model, digits, ["trace", "tracegraph"], steps=3, progress=False, grad_repeats=2)
    # The model passed in is untouched; both runs began from it: identical first-step losses
    # up to sampling, and the same data order (same seed).
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    first = [h["loss"][0] for h in table.attrs["histories"].values()]
    assert first[0] == pytest.approx(first[1], rel=0.05)
    assert list(table["estimator"]) == ["trace", "tracegraph"]


def test_importance_sampled_when_not_enumerable():
    data = load_dataset("linear_gaussian", data_dim=4, latent_dim=2, num_train=200)
    torch.manual_seed(0)
    table = compare(
        SigmoidBeliefNet(4, [21]),
        _binary(data),
        ["trace"],
        steps=2,
        eval_samples=10,
        grad_repeats=2,
        progress=False,
    )
    assert table["test_log_lik_method"].iloc[0] == "importance sampling (S=10)"
    table = compare(PPCA(4, 2), data, "trace,iwae", steps=2, grad_repeats=2, progress=False)
    assert (table["test_log_lik_method"] == "exact").all()


def _binary(data):
    from dataclasses import replace

    return replace(
        data,
        train=(data.train > 0).float(),
        val=(data.val > 0).float(),
        test=(data.test > 0).float(),
    )


def test_bad_arguments(digits):
    model = SigmoidBeliefNet(64, [2])
    with pytest.raises(ValueError, match="unknown estimator 'vimc'"):
        compare(model, digits, ["trace", "vimc"], progress=False)
    with pytest.raises(ValueError, match="unknown baseline"):
        compare(model, digits, ["tracegraph+nvl"], progress=False)
    with pytest.raises(TypeError, match="Dataset"):
        compare(model, digits.train, ["trace"], progress=False)
    with pytest.raises(ValueError, match="at least one"):
        compare(model, digits, [], progress=False)


def logistic_model(x, y):
    """Bayesian logistic regression: weights ~ N(0, I) (global), y_n ~ Bernoulli(sigmoid(x_n w))."""
    w = pyro.sample("w", dist.Normal(torch.zeros(3), 1.0).to_event(1))
    with pyro.plate("obs_plate", x.shape[0]):
        pyro.sample("y", dist.Bernoulli(logits=(x * w).sum(-1)), obs=y)


def logistic_data():
    torch.manual_seed(0)
    x = torch.randn(200, 3)
    y = torch.bernoulli(torch.sigmoid(x @ torch.tensor([1.5, -1.0, 0.5])))
    return x, y


def test_compare_trains_a_plain_pair_with_a_global_latent_on_every_applicable_estimator():
    """Issue 14: a user's pair with an AutoNormal guide over a global latent. Every estimator
    starts from the same parameters; every one finds the weights' signs; the multi-sample
    bounds are over the joint of w and the batch."""
    x, y = logistic_data()
    pair = (logistic_model, AutoNormal(logistic_model))
    names = ["trace", "meanfield", "iwae", "dreg", "vimco", "rws", "tracegraph"]
    table = compare(
        pair,
        (x, y),
        names,
        steps=300,
        lr=0.05,
        batch_size=50,
        num_particles=3,
        grad_repeats=3,
        grad_batch=50,
        progress=False,
        device="cpu",
    )
    assert list(table["estimator"]) == names
    assert table["test_log_lik_method"].eq("no test data").all()
    bounds = table.set_index("estimator")["train_bound"]
    # Same start, same seed, same draws: with a reparameterized guide trace, tracegraph and
    # meanfield (AutoNormal's auxiliary site has no analytic KL) follow one trajectory.
    assert bounds["trace"] == pytest.approx(bounds["tracegraph"], abs=1e-6)
    assert bounds["trace"] == pytest.approx(bounds["meanfield"], abs=1e-6)
    # The 3-sample bounds over the joint of w and the batch are above the ELBO.
    for name in ("iwae", "dreg", "vimco"):
        assert bounds[name] > bounds["trace"], bounds
    # Every ELBO-trained estimator moved from the start (-0.72 nats per point) towards the
    # evidence (about -0.48); RWS trains its guide by self-normalized weights of the joint,
    # which degenerate over a 50-point batch, and is only required to stay finite.
    assert (bounds.drop("rws") > -0.55).all(), bounds
    assert math.isfinite(bounds["rws"])


def test_compare_refuses_estimators_that_do_not_apply_before_any_training():
    x, y = logistic_data()
    pair = (logistic_model, AutoNormal(logistic_model))
    calls = []
    with pytest.raises(ProgramError, match="enum: enum sums out exactly.*Estimators that apply"):
        compare(
            pair,
            (x, y),
            ["trace", "enum"],
            steps=5,
            progress=False,
            callback=lambda step, model: calls.append(step),
        )
    assert calls == []  # nothing trained


# ----- issue 26: users' programs in compare -------------------------------------------------------


def local_model(x):
    with pyro.plate("data", len(x)):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("obs", dist.Normal(z, 1.0), obs=x)


def test_an_autonormal_pair_with_per_row_parameters_is_compared_on_all_its_rows():
    """AutoNormal over a local latent holds one mean per row: fit trains it on all 150 rows
    (batch_size=None), and the gradient stage now estimates on all rows too (it took the first
    grad_batch=100 rows, and the guide's 150 means met 100 rows)."""
    x = torch.randn(150)
    table = compare((local_model, AutoNormal(local_model)), x, ["trace", "iwae"], steps=20,
                    batch_size=None, lr=0.05, grad_repeats=3, progress=False)  # fmt: skip
    assert table["refused"].isna().all()
    assert (table["guide_variance"] > 0).all() and (table["model_variance"] == 0).all()


def test_a_program_that_subsamples_itself_gets_gradients_on_all_rows():
    def model(x):
        with pyro.plate("data", len(x), subsample_size=10) as idx:
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x[idx])

    def guide(x):
        loc = pyro.param("loc", torch.zeros(len(x)))
        with pyro.plate("data", len(x), subsample_size=10) as idx:
            pyro.sample("z", dist.Normal(loc[idx], 0.8))

    table = compare((model, guide), torch.randn(40), ["trace"], steps=10, batch_size=None,
                    grad_repeats=3, grad_batch=8, progress=False)  # fmt: skip
    assert table.loc[0, "guide_variance"] > 0 and table["refused"].isna().all()


def test_map_estimates_by_autodelta_get_gradient_groups():
    """AutoDelta's log q is the constant 0, with no graph (autograd refused it); its point
    estimates are the guide's parameters, found through the drawn values."""
    from pyro.infer.autoguide import AutoDelta

    def model(x):
        mu = pyro.sample("mu", dist.Normal(0.0, 3.0))
        with pyro.plate("data", len(x)):
            pyro.sample("obs", dist.Normal(mu, 1.0), obs=x)

    table = compare((model, AutoDelta(model)), torch.randn(30) + 2.0, ["trace"], steps=10,
                    grad_repeats=3, progress=False)  # fmt: skip
    row = table.iloc[0]
    assert row["guide_variance"] == 0 and row["model_variance"] == 0  # a Delta: no noise
    grads = gradient_stats((model, AutoDelta(model)), torch.randn(30) + 2.0, num_repeats=2)
    assert list(grads["num_params"]) == [0, 1]  # the guide's one point estimate


def test_one_estimator_failing_on_the_program_does_not_sink_the_comparison():
    """An estimator that fails at its first call gets a row saying why, named; the others train."""
    from ppgen.inference import Estimator
    from ppgen.registry import ESTIMATORS

    class Broken(Estimator):
        """Fails on every program (a test's estimator)."""

        name = "broken"

        def __init__(self, num_particles=1, max_plate_nesting=None):
            self.num_particles = num_particles

        def __call__(self, model, guide, *args, **kwargs):
            raise ProgramError("this estimator cannot run this program")

    x, y = logistic_data()
    pair = (logistic_model, AutoNormal(logistic_model))
    with ESTIMATORS.registered("broken", Broken):
        table = compare(pair, (x, y), ["trace", "broken", "vimco"], steps=5, num_particles=3,
                        grad_repeats=2, progress=False)  # fmt: skip
    table = table.set_index("estimator")
    assert table.loc["broken", "refused"] == "broken: this estimator cannot run this program"
    assert math.isnan(table.loc["broken", "train_bound"])
    assert table.loc[["trace", "vimco"], "refused"].isna().all()
    assert table.loc[["trace", "vimco"], "train_bound"].notna().all()
