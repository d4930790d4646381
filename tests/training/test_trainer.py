"""fit(): reproducibility, budgets, history, objectives, plain Pyro functions, checkpoint/resume
equality, divergence handling and bad input."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import Trace_ELBO

from ppgen import PPCA, FactorAnalysis, fit, load_dataset
from ppgen.training import TrainingDivergedError
from ppgen.training.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def lg():
    return load_dataset("linear_gaussian", data_dim=6, latent_dim=2, num_train=300)


def new_ppca(seed=0, dim=6):
    torch.manual_seed(seed)
    return PPCA(dim, 2)


def params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_same_seed_same_run_different_seed_different_run(lg):
    runs = []
    for seed in (0, 0, 1):
        model = new_ppca()
        result = fit(model, lg, steps=40, batch_size=64, lr=0.01, seed=seed, progress=False)
        runs.append((params(model), result.history))
    assert all(torch.equal(runs[0][0][k], runs[1][0][k]) for k in runs[0][0])
    assert runs[0][1]["loss"].tolist() == runs[1][1]["loss"].tolist()
    assert not torch.equal(runs[0][0]["W"], runs[2][0]["W"])


def test_history_columns_budget_and_validation(lg):
    result = fit(new_ppca(), lg, epochs=3, batch_size=100, log_every=1, progress=False)
    history = result.history
    assert list(history["step"]) == list(range(1, 10))  # 3 batches per epoch x 3 epochs
    assert history["epoch"].iloc[-1] == pytest.approx(3.0)
    assert {"loss", "lr", "wall_time", "val_loss", "val_log_lik"} <= set(history.columns)
    assert history["wall_time"].is_monotonic_increasing
    assert history["lr"].iloc[-1] < history["lr"].iloc[0]  # cosine schedule anneals
    assert history["val_log_lik"].notna().any()


def test_validation_cadence_is_about_twenty_per_run_and_at_most_one_per_ten_steps(lg):
    """A validation is a pass over the validation data: a 20-step run validates at steps 10 and
    20 (not 20 times), a 400-step run every 20 steps, and an explicit val_every wins."""

    def validated_steps(**options):
        history = fit(new_ppca(), lg, batch_size=100, progress=False, **options).history
        return history.loc[history["val_loss"].notna(), "step"].tolist()

    assert validated_steps(steps=20) == [10, 20]
    assert validated_steps(steps=7) == [7]
    assert validated_steps(steps=400) == list(range(20, 401, 20))
    assert validated_steps(steps=20, val_every=4) == [4, 8, 12, 16, 20]


def test_a_users_pair_with_validation_data_gets_the_same_cadence():
    """A plain Pyro pair (its own plate name, a global latent, an AutoNormal guide) with
    val_data: validated at steps 10 and 20 of a 20-step run, like a ppgen model."""

    def model(y):
        loc = pyro.sample("loc", dist.Normal(0.0, 5.0))
        with pyro.plate("rows", len(y)):
            pyro.sample("y", dist.Normal(loc, 1.0), obs=y)

    pyro.clear_param_store()
    guide = pyro.infer.autoguide.AutoNormal(model)
    y = torch.randn(40, generator=torch.Generator().manual_seed(0)) + 2.0
    result = fit((model, guide), y, val_data=y[:10], steps=20, progress=False)
    history = result.history
    assert history.loc[history["val_loss"].notna(), "step"].tolist() == [10, 20]


def test_training_improves_the_exact_likelihood(lg):
    model = new_ppca()
    before = model.log_prob(lg.val).mean().item()
    fit(model.init_from_data(lg.train), lg, steps=300, lr=0.02, progress=False)
    assert model.log_prob(lg.val).mean().item() > before + 1.0


def test_estimator_name_elbo_object_and_custom_loss_agree(lg):
    """The same objective given three ways gives the same trajectory."""
    elbo = Trace_ELBO(max_plate_nesting=1)
    results = []
    for kwargs in ({"estimator": "trace"}, {"estimator": elbo}, {"loss": elbo.differentiable_loss}):
        model = new_ppca()
        fit(model, lg, steps=20, lr=0.01, progress=False, **kwargs)
        results.append(params(model)["W"])
    assert torch.allclose(results[0], results[1]) and torch.allclose(results[0], results[2])


def test_plain_pyro_functions_are_first_class():
    """A user's own model/guide functions: the MLE of a Normal (empty guide) is the data mean."""
    x = torch.randn(200, 2) + torch.tensor([3.0, -1.0])

    def model(batch):
        loc = pyro.param("loc", torch.zeros(2))
        scale = pyro.param("scale", torch.ones(2), constraint=dist.constraints.positive)
        with pyro.plate("data", batch.shape[0]):
            pyro.sample("x", dist.Normal(loc, scale).to_event(1), obs=batch)

    def guide(batch):
        pass

    result = fit((model, guide), x, steps=600, lr=0.05, batch_size=None, progress=False)
    assert torch.allclose(result.params["loc"], x.mean(0), atol=0.02)
    assert torch.allclose(result.params["scale"], x.std(0, unbiased=False), atol=0.03)


class InterruptAfter:
    """A Trace_ELBO loss that raises KeyboardInterrupt on its n-th call (a killed job)."""

    __name__ = "counted_trace"

    def __init__(self, n=None):
        self.n, self.calls = n, 0
        self.elbo = Trace_ELBO(max_plate_nesting=1)

    def __call__(self, model, guide, x):
        if not torch.is_grad_enabled():  # validation
            return self.elbo.differentiable_loss(model, guide, x)
        self.calls += 1
        if self.n is not None and self.calls == self.n:
            raise KeyboardInterrupt
        return self.elbo.differentiable_loss(model, guide, x)


@pytest.mark.parametrize("scheme", ["dequantize", "dynamic"])
def test_resume_from_checkpoint_equals_never_stopping(tmp_path, scheme):
    """Killed at step 47, resumed from the step-40 checkpoint: identical parameters, optimizer
    trajectory and history to an uninterrupted run, with per-batch redraws and shuffling."""
    if scheme == "dequantize":
        data = load_dataset("digits", dequantize=True)
    else:
        data = load_dataset("digits", binarize="dynamic")
    settings = dict(
        steps=60, batch_size=128, lr=0.01, log_every=5, checkpoint_every=10, progress=False, seed=3
    )

    reference = new_ppca(dim=64)
    expected = fit(reference, data, loss=InterruptAfter(), **settings)

    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit(new_ppca(dim=64), data, loss=InterruptAfter(n=48), checkpoint=path, **settings)
    assert load_checkpoint(path)["step"] == 40
    resumed_model = new_ppca(seed=9, dim=64)  # a different start: the checkpoint must win
    resumed = fit(resumed_model, data, loss=InterruptAfter(), checkpoint=path, **settings)

    for key, value in params(reference).items():
        assert torch.equal(value, params(resumed_model)[key]), key
    assert resumed.history["loss"].tolist() == expected.history["loss"].tolist()


def test_resume_refuses_other_settings(tmp_path, lg):
    path = tmp_path / "run.ckpt"
    fit(new_ppca(), lg, steps=10, lr=0.01, checkpoint=path, progress=False)
    with pytest.raises(ValueError, match="other settings.*lr: checkpoint 0.01, now 0.02"):
        fit(new_ppca(), lg, steps=10, lr=0.02, checkpoint=path, progress=False)


def test_nan_loss_is_reported_at_its_exact_step_and_the_last_good_state_kept(tmp_path, lg):
    """A NaN loss at step 34 is found on the next log step (35) and reported as step 34; the
    model goes back to step 30 (the last log step with finite losses), which is saved."""
    elbo = Trace_ELBO(max_plate_nesting=1)
    calls = {"n": 0}

    def nan_at_step_34(model, guide, x):
        if torch.is_grad_enabled():
            calls["n"] += 1  # parameters are discovered without gradients: call k is step k
        value = elbo.differentiable_loss(model, guide, x)
        return value + torch.tensor(math.nan) if calls["n"] == 34 else value

    path = tmp_path / "run.ckpt"
    model = new_ppca()
    with pytest.raises(TrainingDivergedError, match="diverged at step 34.*loss became nan") as info:
        fit(
            model,
            lg,
            loss=nan_at_step_34,
            steps=100,
            log_every=5,
            checkpoint_every=10,
            checkpoint=path,
            progress=False,
        )
    assert "restored to step 30" in str(info.value) and info.value.step == 34
    state = load_checkpoint(path)
    assert state["step"] == 30
    assert all(torch.isfinite(v).all() for v in state["modules"][0].values())
    for key, value in model.state_dict().items():  # the model holds step 30's values
        assert torch.equal(value, state["modules"][0][key]), key
    assert len(info.value.history) == 6  # rows for steps 5..30


def test_exploding_parameters_are_reported_at_the_first_non_finite_loss(tmp_path, lg):
    """A NaN loss and gradient at step 13 poison the parameters; the next log step (15, the only
    host sync) reports step 13, and the model goes back to step 10, before the poison.
    Steps run without Pyro's per-step validation, whose checks would sync every step."""
    elbo = Trace_ELBO(max_plate_nesting=1)
    calls = {"n": 0}

    def nan_gradient_at_step_13(model, guide, x):
        if torch.is_grad_enabled():
            calls["n"] += 1
        value = elbo.differentiable_loss(model, guide, x)
        return value * math.nan if calls["n"] == 13 else value

    path = tmp_path / "run.ckpt"
    with pytest.raises(TrainingDivergedError, match="step 13.*loss became nan.*step 10"):
        fit(
            new_ppca(),
            lg,
            loss=nan_gradient_at_step_13,
            steps=100,
            log_every=5,
            checkpoint_every=10,
            checkpoint=path,
            progress=False,
        )


def test_non_finite_start_is_refused(lg):
    model = new_ppca()
    with torch.no_grad():
        model.W.fill_(math.nan)
    with pytest.raises(ValueError, match="parameter 'W' of PPCA is non-finite"):
        fit(model, lg, steps=5, progress=False)


@pytest.mark.parametrize(
    "data, kwargs, error, words",
    [
        (torch.full((10, 6), math.nan), {}, ValueError, "NaN"),
        (torch.ones(10, 5), {}, ValueError, "expects 6"),
        (torch.ones(0, 6), {}, ValueError, "empty"),
        (torch.ones(10, 6, dtype=torch.float64), {}, TypeError, "float64"),
        ([[1.0] * 6], {}, TypeError, "Dataset or a tensor"),
        (None, {"estimator": "tracee"}, ValueError, "unknown estimator 'tracee'"),
        (None, {"steps": 5, "epochs": 1}, ValueError, "not both"),
        (None, {"steps": 0}, ValueError, "steps must be a positive int"),
        (None, {"lr": -1.0}, ValueError, "lr must be a positive"),
        (None, {"batch_size": 0}, ValueError, "batch_size must be"),
        (
            None,
            {"device": "cuda:7"} if not torch.cuda.is_available() else {"device": "tpu"},
            ValueError,
            "device",
        ),
        (None, {"loss": lambda m, g, x: 0, "estimator": "meanfield"}, ValueError, "not both"),
        (None, {"lr_schedule": "linear"}, ValueError, "unknown lr_schedule"),
        (None, {"num_particles": 0}, ValueError, "num_particles"),
    ],
)
def test_bad_input_is_refused_before_training(lg, data, kwargs, error, words):
    with pytest.raises(error) as info:
        fit(new_ppca(), lg if data is None else data, progress=False, **kwargs)
    assert words in str(info.value)


def test_binary_check_is_enforced_for_bernoulli_models(lg):
    class BernoulliPPCA(PPCA):
        likelihood = "bernoulli"

    with pytest.raises(ValueError, match="must be binary"):
        fit(BernoulliPPCA(6, 2), lg.train, steps=1, progress=False)


def test_fa_full_batch_and_meanfield(lg):
    torch.manual_seed(0)
    model = FactorAnalysis(6, 2).init_from_data(lg.train)
    result = fit(model, lg, estimator="meanfield", batch_size=None, steps=50, progress=False)
    assert result.objective == "meanfield" and len(result.history) == 50


def test_class_conditional_model_gets_each_batch_labels():
    """fit passes y=labels[index] with every batch: a conditional VAE trained for a few steps
    explains held-out digits better with their true labels than with wrong ones."""
    from ppgen.evaluation import elbo
    from ppgen.models import VAE

    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    model = VAE(64, 2, hidden_dims=[32], num_classes=10).init_from_data(data.train)
    fit(model, data, steps=300, lr=0.01, progress=False, device="cpu")
    pyro.set_rng_seed(0)
    true = elbo(model, data.test, 20, y=data.test_labels).mean()
    wrong = elbo(model, data.test, 20, y=(data.test_labels + 5) % 10).mean()
    assert true > wrong + 1.0, (float(true), float(wrong))


def test_class_conditional_model_needs_labelled_data():
    from ppgen.models import VAE

    model = VAE(64, 2, hidden_dims=[8], num_classes=10)
    x = load_dataset("digits", binarize="threshold").train
    with pytest.raises(ValueError, match="needs labels"):
        fit(model, x, steps=1, progress=False)
