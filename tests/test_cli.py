"""The ppgen command line: list, fit (run folder contents), demo, and clear errors."""

import pandas as pd
import pytest

from ppgen.cli import main


def test_list_names_models_estimators_and_data(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("ppca", "fa", "trace", "meanfield", "digits", "moons", "linear_gaussian"):
        assert name in out


def test_fit_writes_a_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "fit",
            "ppca",
            "--data",
            "digits",
            "--drop-constant",
            "--latent-dim",
            "3",
            "--steps",
            "30",
            "--lr",
            "0.02",
            "--out",
            str(out),
            "--no-progress",
            "--checkpoint",
        ]
    )
    assert code == 0
    for name in (
        "history.csv",
        "model.pt",
        "config.json",
        "metrics.csv",
        "metrics.md",
        "loss.png",
        "samples.png",
        "checkpoint.pt",
    ):
        assert (out / name).exists(), name
    history = pd.read_csv(out / "history.csv")
    assert history["step"].iloc[-1] == 30
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["split"]) == ["train", "val", "test"]
    assert (metrics["elbo"] <= metrics["log_lik"] + 0.5).all()  # ELBO below the exact value
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["fit", "pcaa", "--data", "digits"], "unknown model 'pcaa'"),
        (["fit", "ppca", "--data", "digitz"], "unknown data set 'digitz'"),
        (["fit", "fa", "--data", "digits", "--steps", "2"], "zero-variance"),
        (["fit", "ppca", "--data", "moons", "--estimator", "nope"], "unknown estimator"),
        (["fit", "ppca", "--data", "moons", "--option", "latent_dim=9"], "latent_dim"),
    ],
)
def test_errors_are_reported_not_raised(tmp_path, capsys, argv, words):
    assert main(argv + ["--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert words in capsys.readouterr().err


def test_existing_non_empty_run_folder_is_refused(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    argv = ["fit", "ppca", "--data", "moons", "--steps", "2", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err


def test_demo_quick_writes_the_report(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path / "demo"), "--no-progress"]) == 0
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "Linear factor models on digits" in report
    assert "Gradient estimators on a sigmoid belief net" in report
    comparison = pd.read_csv(tmp_path / "demo" / "estimator_comparison.csv")
    assert list(comparison["estimator"]) == ["trace", "tracegraph+nvil", "vimco", "rws"]
    table = pd.read_csv(tmp_path / "demo" / "linear_factor_models.csv")
    assert len(table) == 4 and table["model"].tolist().count("PPCA") == 2
    for figure in (
        "loss_curves",
        "closed_form_vs_svi",
        "loadings",
        "samples",
        "estimator_comparison",
    ):
        assert (tmp_path / "demo" / f"{figure}.png").exists()


def test_compare_writes_table_histories_and_figure(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = [
        "compare",
        "--model",
        "sbn",
        "--data",
        "digits",
        "--estimators",
        "trace,vimco",
        "--option",
        "hidden=[3]",
        "--steps",
        "10",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert list(table["estimator"]) == ["trace", "vimco"]
    assert table["num_particles"].tolist() == [1, 5]
    for name in ("comparison.md", "comparison.png", "history_trace.csv", "history_vimco.csv"):
        assert (out / name).exists(), name
    assert "binarize='threshold'" in capsys.readouterr().out
