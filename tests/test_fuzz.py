"""Property-based fuzzing of every public entry point and the CLI (issue 15).

Hypothesis draws bad values (booleans for numbers, zero, negatives, floats for counts, NaN and
infinities, strings, wrong containers, unknown names) for one argument at a time. Every one must
be refused before any optimizer step, with a ``ValueError`` or ``TypeError`` whose message names
the argument; the CLI must answer every bad command line with exit status 2 and one line on
stderr, never a traceback. Seeded and derandomized, with a fixed example budget per property
(about a minute for the file on two cores).
"""

import contextlib
import io
import math
from unittest import mock

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppgen import PPCA, fit, load_dataset
from ppgen.analysis import to_inference_data
from ppgen.cli import main
from ppgen.evaluation import elbo, log_likelihood
from ppgen.training.step import Stepper

FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# ----- bad values, by what the argument should be ------------------------------------------------
NOT_A_NUMBER = st.one_of(
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.just(torch.tensor(1.0)),
)
BAD_COUNT = st.one_of(  # for a positive int
    NOT_A_NUMBER.filter(lambda v: v is not None),
    st.integers(max_value=0),
    st.floats(allow_nan=True, allow_infinity=True),
)
BAD_POSITIVE = st.one_of(  # for a positive finite number
    NOT_A_NUMBER.filter(lambda v: v is not None),
    st.floats(max_value=0.0),
    st.sampled_from([math.inf, -math.inf, math.nan]),
    st.integers(max_value=0),
)
BAD_SEED = st.one_of(
    NOT_A_NUMBER.filter(lambda v: v is not None),
    st.integers(max_value=-1),
    st.integers(min_value=2**32),
    st.floats(),
)
BAD_NAME = st.one_of(st.text(max_size=8), st.integers(), st.booleans())
BAD_FLAG = st.one_of(st.text(max_size=4), st.integers(), st.floats(), st.none())


@pytest.fixture(scope="module")
def lg():
    return load_dataset("linear_gaussian", data_dim=4, latent_dim=1, num_train=60)


def step_forbidden():
    """Any optimizer step fails the test: refusals must come first."""
    return mock.patch.object(Stepper, "model_step", side_effect=AssertionError("a step ran"))


def refused(call, *names) -> str:
    """``call()`` raises ValueError/TypeError whose message names one of ``names``."""
    with step_forbidden(), pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert any(name in message for name in names), message
    return message


# ----- fit ---------------------------------------------------------------------------------------
FIT_OPTIONS = {
    "steps": BAD_COUNT.filter(lambda v: v != "converged"),
    "epochs": BAD_COUNT,
    "batch_size": BAD_COUNT.filter(lambda v: v != "auto"),
    "log_every": BAD_COUNT,
    "val_every": BAD_COUNT,
    "checkpoint_every": BAD_COUNT,
    "early_stopping": BAD_COUNT,
    "num_particles": BAD_COUNT,
    "lr": BAD_POSITIVE,
    "clip_norm": BAD_POSITIVE,
    "seed": BAD_SEED,
    "optimizer": BAD_NAME.filter(lambda v: v not in ("adam", "adamw", "sgd")),
    "lr_schedule": BAD_NAME.filter(lambda v: v not in ("cosine", "constant")),
    "estimator": BAD_NAME.filter(lambda v: isinstance(v, str)),
    "progress": BAD_FLAG,
    "compile": BAD_FLAG.filter(lambda v: v not in ("auto", 0, 1)),
    "devices": BAD_COUNT,
    "distributed_noise": BAD_NAME.filter(lambda v: v not in ("per_rank", "global_batch")),
}
NAMED_AS = {"estimator": ("estimator", "unknown"), "compile": ("compile",)}


@FUZZ
@given(st.data())
def test_fit_refuses_every_bad_option_by_name_before_any_step(lg, data):
    name = data.draw(st.sampled_from(sorted(FIT_OPTIONS)), label="option")
    value = data.draw(FIT_OPTIONS[name], label="value")
    if name in ("epochs",) and value is None:
        return
    refused(
        lambda: fit(PPCA(4, 1), lg, progress=False, **{name: value}), *NAMED_AS.get(name, (name,))
    )


BAD_ROWS = st.one_of(
    st.just(torch.full((5, 4), math.nan)),
    st.just(torch.tensor([[1.0, math.inf, 0.0, 0.0]] * 3)),
    st.just(torch.zeros(0, 4)),
    st.just(torch.zeros(5, 3)),  # 3 features, the model has 4
    st.just(torch.zeros(5, 4, dtype=torch.int64)),
    st.just(torch.zeros(5, 4, dtype=torch.bool)),
    st.just(torch.zeros(5, 4, dtype=torch.float64)),  # the model is float32
    st.just(torch.zeros(5, 4).requires_grad_()),
    st.just(torch.zeros(4)),
    st.just(torch.tensor(1.0)),
    st.lists(st.floats(), min_size=1, max_size=3),
    st.none(),
    st.text(max_size=3),
)


@FUZZ
@given(rows=BAD_ROWS, where=st.sampled_from(["data", "val_data"]))
def test_fit_refuses_bad_data_by_name_before_any_step(lg, rows, where):
    if where == "val_data" and rows is None:
        return  # no validation data is allowed
    data = rows if where == "data" else lg.train
    call = lambda: fit(PPCA(4, 1), data, val_data=rows if where == "val_data" else None)  # noqa: E731
    refused(call, "data", "x ", "features", "dtype", "Dataset")


# ----- evaluation and analysis -------------------------------------------------------------------
@FUZZ
@given(st.data())
def test_evaluation_refuses_bad_arguments_by_name(lg, data):
    model = PPCA(4, 1)
    entry = data.draw(st.sampled_from(["log_likelihood", "elbo", "to_inference_data"]))
    name = data.draw(st.sampled_from(["x", "num_samples", "chunk_size", "batch_size", "kind",
                                      "prior", "dims", "coords"]))  # fmt: skip
    if entry == "log_likelihood":
        call, allowed = log_likelihood, ("x", "num_samples", "chunk_size", "batch_size", "kind")
    elif entry == "elbo":
        call, allowed = elbo, ("x", "num_samples")
    else:
        call, allowed = to_inference_data, ("x", "num_samples", "prior", "dims", "coords")
    if name not in allowed:
        return
    bad = {
        # Evaluation runs without gradients: data that requires them is harmless there.
        "x": BAD_ROWS.filter(lambda r: not (isinstance(r, torch.Tensor) and r.requires_grad)),
        "num_samples": BAD_COUNT,
        "chunk_size": BAD_COUNT,
        "batch_size": BAD_COUNT.filter(lambda v: v is not None),
        "kind": BAD_NAME.filter(lambda v: v not in ("marginal", "predictive")),
        "prior": BAD_FLAG,
        "dims": st.one_of(st.integers(), st.text(max_size=3), st.just({"z": 3})),
        "coords": st.one_of(st.integers(), st.lists(st.integers(), max_size=2)),
    }[name]
    value = data.draw(bad, label=name)
    arguments = {"x": lg.test, "num_samples": 5}
    arguments[name] = value
    refused(lambda: call(model, **arguments), name, "kind", "data", "features", "shape")


LOADER_OPTIONS = {
    "dequantize": BAD_FLAG,
    "drop_constant": BAD_FLAG,
    "seed": BAD_SEED,
    "binarize": BAD_NAME.filter(lambda v: v not in ("threshold", "fixed", "dynamic")),
    "num_train": BAD_COUNT,
    "num_val": BAD_COUNT,
    "noise_std": BAD_POSITIVE,
    "latent_dim": BAD_COUNT,
}


@FUZZ
@given(st.data())
def test_load_dataset_refuses_bad_options_by_name(data):
    name = data.draw(st.sampled_from(sorted(LOADER_OPTIONS)), label="option")
    value = data.draw(LOADER_OPTIONS[name], label="value")
    dataset = "digits" if name in ("dequantize", "drop_constant", "binarize") else "linear_gaussian"
    if value is None and name == "binarize":
        return
    refused(lambda: load_dataset(dataset, **{name: value}), name, "binarization")


# ----- the CLI -----------------------------------------------------------------------------------
CLI_OPTIONS = {
    "--steps": st.one_of(st.integers(max_value=0), st.text(max_size=3)),
    "--lr": st.one_of(st.floats(max_value=0.0), st.sampled_from(["inf", "nan", "x", "-1"])),
    "--num-particles": st.integers(max_value=0),
    "--batch-size": st.integers(max_value=-1),
    "--seed": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)),
    "--latent-dim": st.integers(max_value=0),
    "--estimator": st.text(alphabet="abcxyz", min_size=1, max_size=6),
    "--device": st.sampled_from(["meta", "mps", "cuda:99", "tpu", "gpu"]),
    "--data": st.sampled_from(["nope", "missing.npy", "digitz"]),
    "--binarize": st.sampled_from(["yes", "1"]),
    "--data-option": st.sampled_from(["num_train=0", "num_train=-2", "noise_std=nan", "x"]),
    "--option": st.sampled_from(["latent_dim=0", "nonsense=1", "=3"]),
}


@FUZZ
@given(st.data())
def test_the_cli_answers_every_bad_command_in_one_line(tmp_path_factory, data):
    flag = data.draw(st.sampled_from(sorted(CLI_OPTIONS)), label="flag")
    value = str(data.draw(CLI_OPTIONS[flag], label="value"))
    if flag == "--device" and value.startswith("cuda") and torch.cuda.device_count() > 99:
        return
    out = tmp_path_factory.mktemp("run") / "out"
    argv = ["fit", "ppca", "--data", "linear_gaussian", "--steps", "3", "--eval-samples", "0",
            "--no-progress", "--out", str(out), f"{flag}={value}"]  # fmt: skip
    stderr = io.StringIO()
    with (
        step_forbidden(),
        contextlib.redirect_stderr(stderr),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        code = main(argv)
    lines = stderr.getvalue().strip().splitlines()
    assert code == 2, (argv, stderr.getvalue())
    assert len(lines) == 1 and "Traceback" not in lines[0] and "error" in lines[0], lines
    assert not out.exists()  # a failed command leaves no run folder
