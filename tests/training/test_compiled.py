"""The compiled training step (``fit(compile=)``): same losses and gradients as eager, fallbacks.

A compiled run draws the same random numbers as an eager one, so the two follow each other step
for step: the tests compare whole trajectories (loss history and final parameters), which also
catches a trace that froze a parameter or a running statistic as a constant after step one.
"""

import warnings

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import Trace_ELBO

from ppgen import PPCA, VAE, fit, load_dataset
from ppgen.inference import get_estimator
from ppgen.inference.losses.compose import ELBOLoss
from ppgen.models import available_models
from ppgen.training.compiled import CompiledObjective, is_traceable

# Relative tolerance on trajectories: float32 sums in another order, through 12 Adam steps.
TRAJECTORY_RTOL = 1e-4


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", binarize="threshold").train[:200]


@pytest.fixture(scope="module")
def gaussian():
    return load_dataset("linear_gaussian", data_dim=6, latent_dim=2, num_train=200).train


def make_model(name, data):
    """A registered model's small instance (``example_options``), or a variant of one."""
    torch.manual_seed(0)
    if name == "vae_conv":
        return VAE(data.shape[1], latent_dim=4, encoder="conv", decoder="conv", image_shape=(8, 8))
    return available_models()[name].example(data)


def train(name, data, estimator, compile, particles=1, steps=12):
    # batch 64 of 200 rows: every epoch ends with a batch of 8, a second traced shape.
    return fit(
        make_model(name, data),
        data,
        estimator=estimator,
        num_particles=particles,
        steps=steps,
        batch_size=64,
        log_every=1,
        progress=False,
        device="cpu",
        compile=compile,
    )


CASES = [  # (model, data, estimator, particles)
    ("vae", "digits", "trace", 1),
    ("vae", "digits", "iwae", 5),
    ("vae_conv", "digits", "trace", 1),
    ("sbn", "digits", "trace", 1),
    ("sbn", "digits", "tracegraph", 1),
    ("sbn", "digits", "vimco", 5),
    ("sbn", "digits", "rws", 5),
    ("ppca", "gaussian", "trace", 1),
    ("fa", "gaussian", "iwae", 3),
    ("bayesian_ppca", "gaussian", "trace", 1),
    ("flow", "gaussian", "trace", 1),
    ("nade", "digits", "trace", 1),
    ("draw", "digits", "iwae", 3),
    ("diffusion", "digits", "timestep", 1),
]
# Every other registered model that declares itself traceable, on the data its likelihood takes.
CASES += [
    (name, "digits" if cls.likelihood == "bernoulli" else "gaussian", "trace", 1)
    for name, cls in available_models().items()
    if cls.traceable and name not in {case[0] for case in CASES}
]


@pytest.mark.parametrize("name, data_name, estimator, particles", CASES)
def test_compiled_run_follows_the_eager_run(name, data_name, estimator, particles, request):
    """Same seed, same draws: every logged loss and every final parameter agree."""
    data = request.getfixturevalue(data_name)
    eager = train(name, data, estimator, False, particles)
    compiled = train(name, data, estimator, "auto", particles)
    assert compiled.compiled and not eager.compiled
    torch.testing.assert_close(
        torch.tensor(compiled.history["loss"].to_numpy()),
        torch.tensor(eager.history["loss"].to_numpy()),
        rtol=TRAJECTORY_RTOL,
        atol=0.0,
    )
    eager_params = dict(eager.model.named_parameters())
    for key, value in compiled.model.named_parameters():
        torch.testing.assert_close(value, eager_params[key], rtol=TRAJECTORY_RTOL, atol=1e-6)


def test_compiled_loss_and_gradients_equal_eager_at_one_state(digits):
    """The contract itself, on one batch: value and gradient of every parameter."""
    model = make_model("vae", digits)
    objective = ELBOLoss("iwae", num_particles=4, max_plate_nesting=1)
    compiled = CompiledObjective(objective, model.model, model.guide, list(model.parameters()))
    params = list(model.parameters())
    x = digits[:32]
    results = []
    for fn in (lambda: objective(model.model, model.guide, x), lambda: compiled(x)):
        torch.manual_seed(7)
        for _ in range(2):  # the second call is the optimized replay of the trace
            value = fn()
        results.append((value, torch.autograd.grad(value, params)))
    (eager_value, eager_grads), (traced_value, traced_grads) = results
    assert compiled.compiled
    torch.testing.assert_close(traced_value, eager_value, rtol=1e-5, atol=0.0)
    for a, b in zip(traced_grads, eager_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_auto_compiles_only_what_it_can_replay(digits, gaussian):
    assert train("vae", digits, "trace", "auto", steps=2).compiled
    # Pyro's TraceMeanField_ELBO traces to another value than it computes: eager.
    assert not train("vae", digits, "meanfield", "auto", steps=2).compiled
    # DReG's detached-parameter pass (torch.func.functional_call) refuses to be traced.
    assert not train("vae", digits, "dreg", "auto", particles=3, steps=2).compiled
    # A running baseline is Python state between steps: eager.
    assert not train("sbn", digits, "tracegraph+decaying", "auto", steps=2).compiled
    assert not train("sbn", digits, "tracegraph+nvil", "auto", steps=2).compiled
    # A user's (model, guide) pair: compiled by default too (issue 14), its trace checked.
    pyro.clear_param_store()
    pair = _plain_pair()
    assert fit(pair, gaussian, steps=2, progress=False, device="cpu").compiled


def test_a_program_with_data_dependent_control_flow_runs_eagerly_with_a_notice(gaussian):
    """A Python `if` on a tensor value would be frozen by a trace: compile='auto' detects it (a
    TracerWarning raised in the user's code) and runs that program eagerly, saying why."""

    def model(x):
        loc = pyro.param("branch_loc", torch.zeros(x.shape[1]))
        if x[:, 0].mean() > 0:  # depends on the batch's values
            loc = loc + 1.0
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)

    with pytest.warns(UserWarning, match=r"turns a tensor into a Python value at test_compiled"):
        result = fit((model, lambda x: None), gaussian, steps=4, progress=False, device="cpu")
    assert not result.compiled
    # The same program without the branch compiles.
    pyro.clear_param_store()
    assert fit(_plain_pair(), gaussian, steps=2, progress=False, device="cpu").compiled


def _plain_pair():
    def model(x):
        loc = pyro.param("loc", torch.zeros(x.shape[1]))
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)

    def guide(x):
        pass

    return model, guide


def test_a_plain_pair_with_param_store_parameters_compiles_when_asked(gaussian):
    """``pyro.param`` tensors are inputs of the trace like module parameters."""
    results = []
    for compile in (False, True):
        pyro.clear_param_store()
        results.append(
            fit(
                _plain_pair(),
                gaussian,
                steps=150,
                lr=0.1,
                progress=False,
                device="cpu",
                compile=compile,
            )
        )
    eager, compiled = results
    assert compiled.compiled and not eager.compiled
    torch.testing.assert_close(compiled.params["loc"], eager.params["loc"], rtol=1e-5, atol=1e-6)
    # And it learned: the mean is the data mean (to within what 150 steps reach).
    torch.testing.assert_close(compiled.params["loc"], gaussian.mean(0), rtol=0, atol=0.05)


def test_a_trace_that_fails_falls_back_to_eager_with_a_warning(gaussian):
    elbo = Trace_ELBO(max_plate_nesting=1)

    class Untraceable:
        traceable = True  # wrongly claimed

        def __call__(self, model, guide, x):
            if torch.jit.is_tracing():
                raise RuntimeError("cannot be traced")
            return elbo.differentiable_loss(model, guide, x)

    torch.manual_seed(0)
    model = PPCA(6, 2)
    compiled = CompiledObjective(
        ELBOLoss(Untraceable()), model.model, model.guide, list(model.parameters())
    )
    with pytest.warns(UserWarning, match="tracing failed .*cannot be traced.*run eagerly"):
        value = compiled(gaussian[:16])
    torch.manual_seed(0)
    model_value = elbo.differentiable_loss(model.model, model.guide, gaussian[:16])
    assert not compiled.compiled and value.shape == model_value.shape == ()


def test_a_trace_that_disagrees_with_eager_is_dropped(gaussian):
    """A loss with state between calls: the trace bakes in the first value, the check sees it."""
    elbo = Trace_ELBO(max_plate_nesting=1)
    calls = {"n": 0}

    class Counting:
        traceable = True  # wrongly claimed

        def __call__(self, model, guide, x):
            calls["n"] += 1
            return elbo.differentiable_loss(model, guide, x) + calls["n"]

    torch.manual_seed(0)
    model = PPCA(6, 2)
    objective = ELBOLoss(Counting())
    assert is_traceable(objective)
    compiled = CompiledObjective(objective, model.model, model.guide, list(model.parameters()))
    with pytest.warns(UserWarning, match="traced loss .* differs from eager"):
        compiled(gaussian[:16])
    assert not compiled.compiled and len(compiled.fallbacks) == 1


def test_no_grad_calls_stay_eager(digits):
    model = make_model("vae", digits)
    objective = ELBOLoss("trace", max_plate_nesting=1)
    compiled = CompiledObjective(objective, model.model, model.guide, list(model.parameters()))
    with torch.no_grad():
        compiled(digits[:16])
    assert not compiled._traces  # nothing traced for evaluation


def test_compile_argument_is_checked(gaussian):
    model = PPCA(6, 2)
    with pytest.raises(ValueError, match="compile must be 'auto', True or False"):
        fit(model, gaussian, steps=1, progress=False, compile="yes")
    with pytest.raises(ValueError, match="compile=True needs an ELBO estimator"):
        fit(model, gaussian, steps=1, progress=False, compile=True, loss="mmd")
    with pytest.raises(ValueError, match="compile=True needs an ELBO estimator"):
        fit(
            model,
            gaussian,
            steps=1,
            progress=False,
            compile=True,
            estimator=get_estimator("tracegraph", baseline="decaying"),
        )


def test_no_warnings_from_a_compiled_run(digits):
    """TorchScript's deprecation and tracer warnings stay inside ppgen."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train("vae", digits, "trace", "auto", steps=3).compiled
