"""The ppgen command line: list, fit (run folder contents), demo, and clear errors."""

import pandas as pd
import pytest

from ppgen.cli import main


def test_list_names_models_estimators_and_data(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    names = ("ppca", "fa", "vae", "flow", "nsf", "iwae", "digits", "moons", "linear_gaussian")
    for name in names:
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
        (["fit", "gmmn", "--data", "ring8", "--loss", "mdm"], "unknown loss 'mdm'"),
        (["fit", "generator", "--data", "ring8", "--steps", "2"], "no likelihood"),
        (["fit", "gmmn", "--data", "ring8", "--estimator", "iwae"], "--estimator or --loss"),
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
    assert "VAE and IWAE on binarized digits" in report
    assert "Normalizing flows on two moons" in report
    assert "GMMN and GAN on a ring of 8" in report
    adversarial = pd.read_csv(tmp_path / "demo" / "adversarial_ring8.csv")
    assert adversarial["modes captured"].str.endswith("/ 8").all() and len(adversarial) == 2
    vae = pd.read_csv(tmp_path / "demo" / "vae_vs_iwae.csv")
    assert vae["model"].tolist() == ["VAE (ELBO), K=5", "IWAE, K=5"]
    flows = pd.read_csv(tmp_path / "demo" / "flows_moons.csv")
    assert flows["flow"].tolist() == ["realnvp", "nsf"]
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
        "vae_latent_activity",
        "vae_samples",
        "vae_reconstructions",
        "flows_moons",
        "adversarial_ring8",
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


def test_fit_vae_writes_figures_and_evaluate_rescores_it(tmp_path, capsys):
    out = tmp_path / "vae"
    argv = ["fit", "vae", "--data", "digits", "--estimator", "iwae", "--num-particles", "5"]
    argv += ["--latent-dim", "2", "--option", "hidden_dims=[16]", "--steps", "20"]
    argv += ["--eval-samples", "50", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    for name in ("samples", "reconstructions", "interpolation", "latent_codes", "latent_manifold"):
        assert (out / f"{name}.png").exists(), name
    config = (out / "config.json").read_text()
    assert '"binarize": "threshold"' in config  # the effective scheme, so evaluate reloads it
    metrics = pd.read_csv(out / "metrics.csv")
    assert (metrics["log_lik_method"] == "importance sampling, k=50").all()
    assert (metrics["active_units"] <= 2).all()

    assert main(["evaluate", str(out), "--num-samples", "50", "--device", "cpu"]) == 0
    again = pd.read_csv(out / "evaluation.csv")
    # Same model and data; only the Monte Carlo draws differ (50 samples: within 0.5 nats).
    assert (again["log_lik"] - metrics["log_lik"]).abs().max() < 0.5
    assert (again["elbo"] <= again["log_lik"] + 0.5).all()


def test_fit_flow_on_a_toy_set_and_exact_evaluate(tmp_path):
    out = tmp_path / "flow"
    argv = ["fit", "flow", "--data", "moons", "--option", "hidden_dims=[16]", "--steps", "20"]
    assert main(argv + ["--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    for name in ("density", "samples", "loss"):
        assert (out / f"{name}.png").exists(), name
    assert main(["evaluate", str(out), "--device", "cpu"]) == 0
    metrics, again = pd.read_csv(out / "metrics.csv"), pd.read_csv(out / "evaluation.csv")
    assert (metrics["log_lik_method"] == "exact").all()
    pd.testing.assert_series_equal(metrics["log_lik"], again["log_lik"], rtol=1e-6)


@pytest.mark.parametrize(
    "argv, method",
    [
        (["nade", "--option", "num_orderings=2", "--option", "hidden_dim=8"], "exact"),
        (["diffusion", "--estimator", "timestep", "--option", "steps=4",
          "--option", "hidden_dims=[16]"], "importance sampling, k=5"),
    ],
)  # fmt: skip
def test_fit_autoregressive_and_diffusion_models_from_the_command_line(tmp_path, argv, method):
    """Digits binarized for both (the class's likelihood); no active units for an ensemble's
    integer choice of ordering, nor for a chain of 4 latent levels."""
    out = tmp_path / "run"
    args = ["fit", *argv, "--data", "digits", "--steps", "5", "--eval-samples", "5"]
    assert main(args + ["--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert (metrics["log_lik_method"] == method).all()
    assert "active_units" not in metrics.columns
    assert (out / "samples.png").exists()


def test_evaluate_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a ppgen run folder" in capsys.readouterr().err


@pytest.mark.parametrize("preset, data", [("gmmn", "ring8"), ("gan", "grid25")])
def test_fit_presets_write_sample_scores_and_figures(tmp_path, preset, data):
    """`ppgen fit gmmn|gan`: a Generator trained by its loss; metrics are sample-based (modes
    captured out of the mixture's modes), figures show samples, their density and both losses."""
    out = tmp_path / preset
    argv = ["fit", preset, "--data", data, "--steps", "20", "--option", "hidden_dims=[16]"]
    assert main(argv + ["--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    for name in ("density", "samples", "loss"):
        assert (out / f"{name}.png").exists(), name
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["num_modes"].item() == {"ring8": 8, "grid25": 25}[data]
    assert 0 <= metrics["modes_captured"].item() <= metrics["num_modes"].item()
    assert 0 < metrics["mmd_p_value"].item() <= 1
    history = pd.read_csv(out / "history.csv")
    assert ("adversary_loss" in history) == (preset == "gan")
    assert main(["evaluate", str(out), "--device", "cpu"]) == 0
    again = pd.read_csv(out / "evaluation.csv")
    assert again["num_modes"].item() == metrics["num_modes"].item()


USER_MODELS = '''
import pyro, pyro.distributions as dist, torch
from ppgen.models import GenerativeModel


class MyPCA(GenerativeModel):
    """Isotropic PCA with an amortized guide: a user's own class in a user's own file."""

    def __init__(self, data_dim, latent_dim=2):
        super().__init__(data_dim)
        self.latent_dim = latent_dim
        self.W = torch.nn.Parameter(0.1 * torch.randn(data_dim, latent_dim))
        self.encoder = torch.nn.Linear(data_dim, 2 * latent_dim)

    def model(self, x):
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            z = pyro.sample("z", dist.Normal(0.0, 1.0).expand([self.latent_dim]).to_event(1))
            pyro.sample("x", dist.Normal(z @ self.W.T, 1.0).to_event(1), obs=x)

    def guide(self, x):
        loc, log_scale = self.encoder(x).chunk(2, -1)
        with pyro.plate(self.data_plate, x.shape[0], dim=-1):
            pyro.sample("z", dist.Normal(loc, log_scale.exp()).to_event(1))
'''


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_fit_evaluate_and_compare_a_users_model_file_on_a_users_data_file(tmp_path, suffix, capsys):
    """Issue 14: `ppgen fit path/models.py:MyPCA --data rows.npz` (or .csv) writes a run folder
    whose config names the file data set, and `ppgen evaluate` reloads both from it."""
    import numpy as np

    (tmp_path / "models.py").write_text(USER_MODELS)
    rows = np.random.default_rng(0).normal(size=(120, 4)) @ np.diag([3.0, 2.0, 1.0, 0.5])
    data_file = tmp_path / f"rows{suffix}"
    if suffix == ".npz":
        np.savez(data_file, rows=rows)
    else:
        np.savetxt(data_file, rows, delimiter=",", header="a,b,c,d", comments="")
    spec = f"{tmp_path / 'models.py'}:MyPCA"
    out = tmp_path / "run"
    args = ["fit", spec, "--data", str(data_file), "--steps", "40", "--out", str(out)]
    assert main([*args, "--no-progress", "--eval-samples", "50"]) == 0
    config = __import__("json").loads((out / "config.json").read_text())
    assert config["data"] == "file" and config["data_options"]["path"] == str(data_file)
    assert config["model"].endswith("models.py:MyPCA")
    # The run folder names Python code: reloading it runs that file, so it takes consent.
    assert main(["evaluate", str(out), "--num-samples", "50"]) == 2
    assert "--trust-model-code" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--num-samples", "50", "--trust-model-code"]) == 0
    table = pd.read_csv(out / "evaluation.csv").set_index("split")
    assert list(table.index) == ["train", "val", "test"]
    assert table["elbo"].between(-30, 0).all(), table  # nats per 4-d row, finite
    if suffix == ".npz":
        assert main(["analyze", str(out), "--num-samples", "25", "--trust-model-code"]) == 0
        assert (out / "analysis" / "inference_data.nc").is_file()
        assert "log-likelihood is conditional" in (out / "analysis" / "loo_skipped.txt").read_text()


def test_a_users_model_file_without_the_class_is_refused_by_name(tmp_path, capsys):
    (tmp_path / "models.py").write_text(USER_MODELS)
    spec = f"{tmp_path / 'models.py'}:NoSuchModel"
    assert main(["fit", spec, "--data", "digits", "--steps", "2", "--no-progress"]) == 2
    assert "defines no 'NoSuchModel'; its classes:" in capsys.readouterr().err


def test_ppgen_help_does_not_import_torch():
    """`ppgen --help` answers without loading torch, Pyro or ArviZ (the package imports lazily)."""
    import subprocess
    import sys

    code = "import sys, ppgen.cli; print(sorted({'torch', 'pyro', 'arviz'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_stored_catalogue_is_the_registries():
    """`ppgen list` prints ppgen/catalogue.json (no torch import, well under a second); it must
    equal what the registries hold. After registering something, rewrite it with:
    python -m ppgen.catalogue."""
    import json

    from ppgen.catalogue import CATALOGUE, live_catalogue

    assert json.loads(CATALOGUE.read_text()) == live_catalogue()
