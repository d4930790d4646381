"""compare: one row per estimator from a shared start, and the known ordering on an enumerable
SBN (Mnih & Rezende 2016): vimco and rws above tracegraph+NVIL, and that above plain trace."""

import pandas as pd
import pytest
import torch

from ppgen import PPCA, SigmoidBeliefNet, compare, load_dataset


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
