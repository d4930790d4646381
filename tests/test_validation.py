"""Input checks: every kind of bad data is refused with a message that names the problem."""

import pytest
import torch

from ppgen.validation import check_data, check_name, constant_columns


def test_accepts_good_data_unchanged():
    x = torch.rand(5, 3)
    assert check_data(x, event_dim=3) is x


@pytest.mark.parametrize(
    "x, kwargs, error, words",
    [
        ([[1.0, 2.0]], {}, TypeError, "torch.Tensor"),
        (torch.ones(4, 2, dtype=torch.long), {}, TypeError, "dtype torch.int64"),
        (torch.ones(4, 2, dtype=torch.float64), {"dtype": torch.float32}, TypeError, "float64"),
        (torch.ones(4), {}, ValueError, "shape (num_points, num_features)"),
        (torch.ones(0, 3), {}, ValueError, "empty"),
        (torch.ones(4, 2), {"event_dim": 3}, ValueError, "expects 3"),
        (torch.tensor([[1.0, float("nan")]]), {}, ValueError, "NaN"),
        (torch.tensor([[1.0, float("inf")]]), {}, ValueError, "NaN or infinite"),
        (torch.tensor([[1.0, 0.5]]), {"binary": True}, ValueError, "must be binary"),
        (torch.ones(2, 2), {"device": "meta"}, ValueError, "is on cpu but the model is on meta"),
    ],
)
def test_rejects_bad_data_with_a_named_problem(x, kwargs, error, words):
    with pytest.raises(error, match=None) as info:
        check_data(x, name="my data", **kwargs)
    assert words in str(info.value)


def test_unknown_name_lists_choices_and_suggests():
    with pytest.raises(ValueError, match="choose one of alpha, beta.*Did you mean 'alpha'"):
        check_name("alpah", ["beta", "alpha"], "thing")


def test_constant_columns():
    x = torch.tensor([[0.0, 1.0, 2.0], [0.0, 3.0, 2.0]])
    assert constant_columns(x) == [0, 2]


# ----- issue 26: bad input that still reached torch, xarray or a training step -------------------


def test_meta_device_data_is_refused_before_training():
    import pyro
    import pyro.distributions as dist

    from ppgen import PPCA, fit

    def model(x):
        with pyro.plate("data", len(x)):
            pyro.sample("x", dist.Normal(0.0, 1.0), obs=x)

    meta = torch.empty(5, 10, device="meta")
    for program in (PPCA(10, 2), (model, lambda x: None)):
        with pytest.raises(ValueError, match="data is on the meta device: it has a shape but no"):
            fit(program, meta if program.__class__ is PPCA else meta[:, 0], steps=1, progress=False)


@pytest.mark.parametrize("option", ["num_train", "num_val", "num_test"])
def test_a_count_of_none_is_refused_by_name(option):
    from ppgen import load_dataset

    with pytest.raises(ValueError, match=f"{option} must be a positive int, got None"):
        load_dataset("moons", **{option: None})


@pytest.mark.parametrize(
    "build, words",
    [
        ("PPCA(5, True)", "latent_dim must be an int in 1..5, got True"),
        ("SigmoidBeliefNet(5, [True])", r"hidden must be a non-empty list of positive ints"),
        ("VAE(5, hidden_dims=[4, True])", "hidden_dims must be a non-empty list of positive"),
        ("Generator(2, latent_dim=False)", "latent_dim must be a positive int, got False"),
        ("DRAW(64, steps=True)", "steps must be a positive int, got True"),
    ],
)
def test_booleans_are_not_sizes(build, words):
    import ppgen

    with pytest.raises(ValueError, match=words):
        eval(build, {name: getattr(ppgen, name) for name in ppgen.__all__})  # noqa: S307


def test_malformed_coords_and_dims_are_named_not_xarray_errors():
    import ppgen
    from ppgen.analysis import to_inference_data

    x = ppgen.load_dataset("linear_gaussian").train[:10]
    model = ppgen.PPCA(10, 2)
    with pytest.raises(ValueError, match="dims/coords do not fit the draws: conflicting sizes"):
        to_inference_data(model, x, num_samples=5, coords={"data": [1, 2]})
    with pytest.raises(ValueError, match=r"coords names dimension\(s\) \['rows'\] that no site"):
        to_inference_data(model, x, num_samples=5, coords={"rows": list(range(10))})
    with pytest.raises(ValueError, match=r"dims names site\(s\) \['zz'\] that the program has"):
        to_inference_data(model, x, num_samples=5, dims={"zz": ["a"]})
    with pytest.raises(ValueError, match="dims/coords do not fit the draws: In variable x"):
        to_inference_data(model, x, num_samples=5, dims={"x": ["a", "b", "c"]})


def test_streamed_rows_are_checked_whole_before_training(tmp_path):
    """An NpyRows file was checked batch by batch as training read it: a constant column (for
    factor analysis, an unbounded likelihood) or a non-binary value (for a Bernoulli model)
    surfaced mid-run, or never."""
    import numpy as np

    from ppgen import FactorAnalysis, SigmoidBeliefNet, fit
    from ppgen.data import NpyRows
    from ppgen.training.step import Stepper

    rows = np.random.default_rng(0).normal(size=(300, 5)).astype(np.float32)
    rows[:, 2] = 1.0
    np.save(tmp_path / "constant.npy", rows)
    binary = (np.random.default_rng(1).random((300, 6)) > 0.5).astype(np.float32)
    binary[250, 3] = 0.5
    np.save(tmp_path / "binary.npy", binary)
    steps = []
    original = Stepper.model_step
    Stepper.model_step = lambda *a: steps.append(1) or original(*a)
    try:
        with pytest.raises(ValueError, match=r"zero-variance column\(s\) \[2\]"):
            fit(FactorAnalysis(5, 2), NpyRows(tmp_path / "constant.npy"), steps=5,
                batch_size=32, progress=False)  # fmt: skip
        with pytest.raises(ValueError, match=r"rows 0\.\.299\) must be binary.*entry \[250, 3\]"):
            fit(SigmoidBeliefNet(6, [2]), NpyRows(tmp_path / "binary.npy"), steps=5,
                batch_size=32, progress=False)  # fmt: skip
    finally:
        Stepper.model_step = original
    assert steps == []


@pytest.mark.parametrize(
    "argv, words",
    [
        (["fit", "ppca", "--data", "linear_gaussian", "--eval-samples", "-5"], "-5 is less than 0"),
        (["evaluate", "RUN", "--num-samples", "0"], "0 is less than 1"),
        (["evaluate", "RUN", "--num-samples", "-3"], "-3 is less than 1"),
        (["analyze", "RUN", "RUN", "--out", "OUT"], "given more than once"),
        (["fit", "ppca", "--data", "linear_gaussian", "--option", "latent_dim=True"], "got True"),
        (["fit", "ppca", "--data", "linear_gaussian", "--data-option", "num_train=None"],
         "num_train must be a positive int, got None"),
    ],
)  # fmt: skip
def test_the_cli_refuses_the_options_that_exited_0_or_failed_in_torch(
    argv, words, tmp_path, capsys
):
    from ppgen.cli import main

    argv = [str(tmp_path / "run") if a == "RUN" else str(tmp_path / "o") if a == "OUT" else a
            for a in argv]  # fmt: skip
    (tmp_path / "run").mkdir()
    assert main([*argv, *(["--no-progress"] if argv[0] == "fit" else [])]) == 2
    error = capsys.readouterr().err
    assert words in error and len(error.strip().splitlines()) == 1, error
