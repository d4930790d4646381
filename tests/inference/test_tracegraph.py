"""``tracegraph``: with every baseline the single-sample gradient stays unbiased for the exact
ELBO gradient (enumeration on a tiny SBN), and the loss value is the negative ELBO."""

import pytest
import torch

from ppgen import SigmoidBeliefNet, fit, load_dataset
from ppgen.inference import get_estimator
from ppgen.training.checkpoint import load_checkpoint


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
        estimator=nvil,
        steps=30,
        progress=False,
        checkpoint=tmp_path / "c.ckpt",
    )
    assert result.objective == "tracegraph+nvil"
    state = load_checkpoint(tmp_path / "c.ckpt")["objective"]
    saved = state["network"]["0.weight"]
    assert torch.equal(saved, nvil.network[0].weight.detach())
    assert float(state["variance"]) > 0


def test_two_nvil_estimators_never_share_a_network():
    """Regression: the network used to live in Pyro's global parameter store under one name,
    so a second estimator silently started from (and trained) the first one's network."""
    data = load_dataset("digits", binarize="threshold")
    first = get_estimator("tracegraph+nvil", max_plate_nesting=1)
    torch.manual_seed(0)
    fit(SigmoidBeliefNet(64, [4]), data, estimator=first, steps=30, progress=False)
    trained = first.network[0].weight.detach().clone()
    second = get_estimator("tracegraph+nvil", max_plate_nesting=1)
    torch.manual_seed(1)
    fit(SigmoidBeliefNet(64, [4]), data, estimator=second, steps=30, progress=False)
    assert second.network is not first.network
    assert torch.equal(first.network[0].weight.detach(), trained)  # untouched by the second run


def test_resume_with_nvil_equals_never_stopping(tmp_path):
    data = load_dataset("digits", binarize="threshold")
    settings = dict(steps=40, log_every=5, checkpoint_every=10, lr=0.01, progress=False)

    torch.manual_seed(0)
    reference = SigmoidBeliefNet(64, [4])
    fit(
        reference, data, estimator=get_estimator("tracegraph+nvil", max_plate_nesting=1), **settings
    )

    class Interrupting:
        """NVIL that raises KeyboardInterrupt on its 26th training call (step 25)."""

        def __init__(self):
            self.inner, self.calls = get_estimator("tracegraph+nvil", max_plate_nesting=1), 0
            self.__name__ = "tracegraph+nvil"

        def __call__(self, *args):
            if torch.is_grad_enabled():
                self.calls += 1
                if self.calls == 26:
                    raise KeyboardInterrupt
            return self.inner(*args)

        def parameters(self):
            return self.inner.parameters()

        def state_dict(self):
            return self.inner.state_dict()

        def load_state_dict(self, state):
            self.inner.load_state_dict(state)

    torch.manual_seed(0)
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit(SigmoidBeliefNet(64, [4]), data, estimator=Interrupting(), checkpoint=path, **settings)
    torch.manual_seed(5)
    resumed = SigmoidBeliefNet(64, [4])
    fit(
        resumed,
        data,
        estimator=get_estimator("tracegraph+nvil", max_plate_nesting=1),
        checkpoint=path,
        **settings,
    )
    for key, value in reference.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
