"""``ppgen analyze``: the files it writes for a run (netCDF equal to a fresh conversion's groups,
summary, k̂ table, LOO equal to arviz-stats'), the comparison of runs (LOO where it applies, else
the exact log-likelihood), runs of one model on one data set as chains, and clear errors."""

import arviz_stats
import pandas as pd
import pytest
import xarray as xr

from ppgen.analysis import run_agreement
from ppgen.cli import main
from ppgen.runs.folder import load_run

FIT = ["fit", "--data", "linear_gaussian", "--batch-size", "0", "--lr", "0.05", "--no-progress"]


def fit_run(tmp_path, model, latent_dim, steps=300):
    out = tmp_path / f"{model}-{latent_dim}"
    argv = [FIT[0], model, *FIT[1:], "--latent-dim", str(latent_dim), "--steps", str(steps)]
    assert main([*argv, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def bayesian_runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("runs")
    return [fit_run(tmp_path, "bayesian_ppca", k) for k in (1, 3)]


def test_analyze_writes_inference_data_tables_and_figures(bayesian_runs, tmp_path, capsys):
    out = tmp_path / "comparison"
    argv = ["analyze", *map(str, bayesian_runs), "--num-samples", "200", "--out", str(out)]
    assert main(argv) == 0
    for run in bayesian_runs:
        files = {p.name for p in (run / "analysis").iterdir()}
        assert {
            "inference_data.nc",
            "summary.csv",
            "psis.csv",
            "psis_summary.csv",
            "loo.csv",
            "posterior.png",
            "ppc.png",
            "khat.png",
        } <= files
        idata = xr.open_datatree(run / "analysis" / "inference_data.nc")
        assert idata.posterior["W"].shape[:2] == (1, 200)
        assert idata.attrs["split"] == "train" and idata.attrs["log_likelihood"].startswith("marg")
        loo = pd.read_csv(run / "analysis" / "loo.csv", index_col="criterion")
        assert loo.loc["loo", "elpd"] == pytest.approx(arviz_stats.loo(idata).elpd, rel=1e-9)
        summary = pd.read_csv(run / "analysis" / "summary.csv", index_col=0)
        latent_dim = idata.posterior["W"].shape[-1]
        # every variable, one row per element: noise_std, W (10 x k) and z (1000 points x k)
        assert "noise_std" in summary.index
        assert len(summary) == 1 + 10 * latent_dim + 1000 * latent_dim
    comparison = pd.read_csv(out / "comparison.csv")
    assert comparison["run"].tolist() == ["bayesian_ppca-3", "bayesian_ppca-1"]
    assert (comparison["criterion"] == "psis-loo").all()
    assert comparison.loc[1, "elpd_diff"] < -10 * comparison.loc[1, "dse"]
    assert "not taken as chains: run 1's model_options" in capsys.readouterr().out


def test_point_estimates_are_compared_by_log_likelihood(tmp_path, capsys):
    """PPCA runs have no global latents: LOO is skipped with the reason, the guide's k̂ is per
    data point, and the comparison uses the exact log-likelihood of the split."""
    runs = [fit_run(tmp_path, "ppca", k, steps=200) for k in (1, 3)]
    out = tmp_path / "comparison"
    assert (
        main(
            [
                "analyze",
                *map(str, runs),
                "--split",
                "test",
                "--num-samples",
                "50",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    analysis = runs[0] / "analysis"
    assert "loo.csv" not in {p.name for p in analysis.iterdir()}
    assert "held-out log-likelihood" in (analysis / "loo_skipped.txt").read_text()
    assert len(pd.read_csv(analysis / "psis.csv")) == 500  # one k̂ per test point
    comparison = pd.read_csv(out / "comparison.csv")
    assert comparison["run"].tolist() == ["ppca-3", "ppca-1"]
    model, data, _ = load_run(runs[1])
    exact = float(model.log_prob(data.test).mean())
    assert comparison.loc[0, "log_lik"] == pytest.approx(exact, rel=1e-6)
    assert comparison.loc[0, "method"] == "exact"
    # On the train split the reason is the point estimates.
    assert main(["analyze", str(runs[0]), "--num-samples", "30"]) == 0
    assert "point estimates" in (analysis / "loo_skipped.txt").read_text()


def test_runs_of_one_model_on_one_data_set_are_analysed_as_chains(tmp_path, capsys):
    """Bayesian PPCA fitted with three training seeds on one data seed: `ppgen analyze` stacks
    the runs as chains and writes R-hat across them. The loadings W are identified only up to
    rotation, and the runs disagree on them (R-hat > 1.1); the noise scale is identified and
    the runs do not disagree on it (< 1.1 after 400 steps; tests/analysis/test_run_agreement.py
    shows < 1.01 for converged runs)."""
    runs = []
    for seed in (0, 1, 2):
        out = tmp_path / f"seed{seed}"
        argv = [*FIT[:1], "bayesian_ppca", *FIT[1:], "--latent-dim", "3", "--steps", "400"]
        argv += ["--data-option", "num_train=200", "--seed", str(seed), "--data-seed", "0"]
        argv += ["--out", str(out)]
        assert main(argv) == 0
        runs.append(out)
    joint = tmp_path / "joint"
    argv = ["analyze", *map(str, runs), "--num-samples", "100", "--out", str(joint)]
    assert main(argv) == 0
    assert "3 runs of one model on the same data, as chains" in capsys.readouterr().out
    assert {"inference_data.nc", "agreement.csv", "summary.csv", "loo.csv", "agreement.png"} <= {
        p.name for p in joint.iterdir()
    }
    tree = xr.open_datatree(joint / "inference_data.nc")
    assert tree.posterior.sizes["chain"] == 3 and tree.attrs["num_runs"] == 3
    agreement = pd.read_csv(joint / "agreement.csv", index_col=0)
    assert agreement.loc["noise_std", "r_hat"] < 1.1
    assert agreement.filter(like="W[", axis=0)["r_hat"].max() > 1.1
    assert agreement.equals(run_agreement(tree).astype(agreement.dtypes.to_dict()))
    # The summary over all runs has R-hat for every element.
    summary = pd.read_csv(joint / "summary.csv", index_col=0)
    assert summary.loc["noise_std", "r_hat"] == pytest.approx(agreement.loc["noise_std", "r_hat"])


def test_analyze_errors(tmp_path, capsys):
    assert main(["analyze", str(tmp_path)]) == 2
    assert "not a ppgen run folder" in capsys.readouterr().err
    run = fit_run(tmp_path, "ppca", 2, steps=5)
    assert main(["analyze", str(run), "--out", str(tmp_path / "x")]) == 2
    assert "two runs or more" in capsys.readouterr().err
    assert main(["analyze", str(run), "--num-samples", "24"]) == 2
    assert "at least 25 guide draws" in capsys.readouterr().err
    gan = tmp_path / "gan"
    argv = ["fit", "gmmn", "--data", "ring8", "--steps", "2", "--no-progress", "--out", str(gan)]
    assert main(argv) == 0
    assert main(["analyze", str(gan)]) == 2
    assert "no likelihood" in capsys.readouterr().err
