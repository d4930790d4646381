"""Contract over every registered model: shapes, sampling, data checks, and gradients that reach
every parameter. Driven by the registry, so a new model is covered the moment it is registered."""

import pyro
import pytest
import torch

from ppgen.inference.losses import MMDLoss
from ppgen.models import available_models

MODELS = sorted(available_models())
DATA_DIM = 6


def build(name):
    torch.manual_seed(0)
    return available_models()[name](DATA_DIM)


def example_data(model, n=5):
    x = torch.rand(n, DATA_DIM)
    return x.round() if model.likelihood == "bernoulli" else x


@pytest.mark.parametrize("name", MODELS)
def test_sample_shapes_and_dtype(name):
    model = build(name)
    samples = model.sample(7)
    assert samples.shape == (7, DATA_DIM) and samples.dtype == model.dtype
    with pytest.raises(ValueError, match="positive int"):
        model.sample(0)


@pytest.mark.parametrize("name", MODELS)
def test_gradients_reach_every_parameter(name):
    model = build(name)
    x = example_data(model)
    if model.likelihood == "implicit":  # no ELBO: a generator learns from a two-sample loss
        MMDLoss()(model.model, model.guide, x).backward()
    else:
        elbo = pyro.infer.Trace_ELBO(max_plate_nesting=model.max_plate_nesting)
        elbo.differentiable_loss(model.model, model.guide, x).backward()
    for pname, param in model.named_parameters():
        assert param.grad is not None, f"no gradient reaches {pname}"
        assert torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", MODELS)
def test_plates_are_declared(name):
    model = build(name)
    trace = pyro.poutine.trace(model.model).get_trace(example_data(model))
    plates = {f.name for site in trace.nodes.values() for f in site.get("cond_indep_stack", ())}
    assert model.data_plate in plates
    assert trace.nodes[model.observed_site]["is_observed"]
    nesting = max(-f.dim for s in trace.nodes.values() for f in s.get("cond_indep_stack", ()))
    assert nesting <= model.max_plate_nesting


@pytest.mark.parametrize("name", MODELS)
def test_log_prob_shape_where_exact(name):
    model = build(name)
    if not model.has_exact_log_prob:
        with pytest.raises(NotImplementedError, match="log_likelihood|no likelihood"):
            model.log_prob(example_data(model))
        return
    assert model.log_prob(example_data(model, 4)).shape == (4,)


@pytest.mark.parametrize("name", MODELS)
def test_bad_input_is_refused(name):
    model = build(name)
    with pytest.raises(ValueError, match="features per point"):
        model.check_data(torch.rand(3, DATA_DIM + 1))
    with pytest.raises(TypeError, match="dtype torch.float64"):
        model.check_data(torch.rand(3, DATA_DIM, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        model.check_data(torch.full((3, DATA_DIM), float("nan")))


def test_unknown_model_name():
    from ppgen.models import get_model

    with pytest.raises(ValueError, match="unknown model 'ppcaa'.*Did you mean 'ppca'"):
        get_model("ppcaa")


def test_instances_do_not_share_parameters_through_the_param_store():
    """Two models of one class must stay independent even when called as PyroModules."""
    a, b = build("ppca"), build("ppca")
    with torch.no_grad():
        a.noise_std = torch.tensor(3.0)
    x = torch.rand(4, DATA_DIM)
    pyro.poutine.trace(a).get_trace(x)
    pyro.poutine.trace(b).get_trace(x)
    assert b.noise_std.item() == pytest.approx(1.0) and a.noise_std.item() == pytest.approx(3.0)
