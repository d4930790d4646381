"""``tracegraph``: with every baseline the single-sample gradient stays unbiased for the exact
ELBO gradient (enumeration on a tiny SBN), and the loss value is the negative ELBO."""

import pytest
import torch

from ppgen import SigmoidBeliefNet, fit, load_dataset
from ppgen.inference import get_estimator


@pytest.mark.parametrize("baseline", ["none", "decaying", "nvil"])
def test_gradient_is_unbiased_against_enumeration(tiny_sbn, check_unbiased, baseline):
    x = torch.tensor([1.0, 0.0, 1.0])
    exact = tiny_sbn.exact_gradient(tiny_sbn.elbo, x)
    estimator = get_estimator("tracegraph", baseline=baseline, max_plate_nesting=1)
    if baseline != "none":
        # Warm the baseline up on other data: a baseline that adapts is still unbiased as long
        # as it does not depend on the current sample.
        with torch.enable_grad():
            for _ in range(20):
                estimator(tiny_sbn.model.model, tiny_sbn.model.guide, torch.ones(50, 3)).backward()
        tiny_sbn.model.zero_grad()
    if baseline == "nvil":
        estimator.network.requires_grad_(False)  # only the model/guide gradients are compared

        def model_guide_loss(model, guide, batch):
            return estimator(model, guide, batch)

        estimates = tiny_sbn.estimated_gradients(model_guide_loss, x)
    else:
        estimates = tiny_sbn.estimated_gradients(estimator, x)
    check_unbiased(estimates, exact)


def test_value_is_the_negative_elbo(tiny_sbn):
    """E[loss] per data point = -ELBO (mean over 20000 seeded draws, 4 s.e.)."""
    x = torch.tensor([1.0, 0.0, 1.0])
    estimator = get_estimator("tracegraph", max_plate_nesting=1)
    values = torch.stack(
        [
            estimator(tiny_sbn.model.model, tiny_sbn.model.guide, x.expand(1000, 3)).detach() / 1000
            for _ in range(20)
        ]
    )
    exact = -tiny_sbn.elbo(x).detach()
    assert abs(values.mean() - exact) < 4 * values.std() / 20**0.5 + 1e-3


def test_unknown_baseline():
    with pytest.raises(ValueError, match="unknown baseline 'nvill'"):
        get_estimator("tracegraph", baseline="nvill")


def test_nvil_baseline_network_is_trained_and_checkpointed(tmp_path):
    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    nvil = get_estimator("tracegraph", baseline="nvil", max_plate_nesting=1)
    result = fit(
        SigmoidBeliefNet(64, [4]),
        data,
        loss=nvil,
        steps=30,
        progress=False,
        checkpoint=tmp_path / "c.ckpt",
    )
    assert any(name.startswith("nvil_baseline") for name in result.params)
    first = next(iter(nvil.network.parameters())).detach().clone()
    assert not torch.equal(first, torch.zeros_like(first))
    assert result.objective == "tracegraph+nvil"
