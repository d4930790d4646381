"""Several SVI runs as chains: R-hat across runs flags runs that found different approximations
(a mixture's label switching, a factor model's rotation) and passes quantities the model
identifies; refusals for one run and for runs that do not match."""

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
import xarray as xr
from pyro.infer.autoguide import AutoMultivariateNormal, AutoNormal, init_to_value
from sklearn.decomposition import PCA

from ppgen import PPCA, fit, load_dataset
from ppgen.analysis import run_agreement, to_inference_data

NUM_RUNS = 4


def mixture(y):
    """Two unit-variance Gaussians with equal weights; the assignments are summed out."""
    locs = pyro.sample("locs", dist.Normal(torch.zeros(2), 10.0).to_event(1))
    with pyro.plate("data", y.shape[0]):
        components = dist.Normal(locs, 1.0)  # batch (..., 2): the last dimension is the component
        pyro.sample(
            "y", dist.MixtureSameFamily(dist.Categorical(torch.ones(2) / 2), components), obs=y
        )


def sort_along(variable: xr.DataArray, dim: str) -> xr.DataArray:
    return xr.apply_ufunc(np.sort, variable, input_core_dims=[[dim]], output_core_dims=[[dim]])


@pytest.fixture(scope="module")
def mixture_runs():
    """Four runs of the mixture from two initialisations, (-1, 1) for seeds 0 and 1 and (1, -1)
    for seeds 2 and 3: each pair finds one labelling of the same two components."""
    torch.manual_seed(0)
    y = torch.cat([torch.randn(100) - 3.0, torch.randn(100) + 3.0])
    runs = []
    for seed in range(NUM_RUNS):
        start = torch.tensor([-1.0, 1.0]) * (1 if seed < 2 else -1)
        guide = AutoNormal(mixture, init_loc_fn=init_to_value(values={"locs": start}))
        fit((mixture, guide), y, steps=800, batch_size=None, lr=0.05, progress=False, seed=seed)
        runs.append((mixture, guide))
    return to_inference_data(runs, y, num_samples=500)


def test_label_switching_is_flagged_and_the_sorted_locations_agree(mixture_runs):
    tree = mixture_runs
    assert tree.posterior.sizes["chain"] == NUM_RUNS and tree.attrs["num_runs"] == NUM_RUNS
    means = tree.posterior["locs"].mean("draw").values  # (runs, 2)
    np.testing.assert_allclose(np.sort(means, axis=1), [[-3.0, 3.0]] * NUM_RUNS, atol=0.25)
    tree["posterior"]["sorted_locs"] = sort_along(tree.posterior["locs"], "locs_dim_0")
    table = run_agreement(tree, var_names=["locs", "sorted_locs"])
    # Measured: 1.73 for both labels' locations; 1.003 and 1.001 once sorted; log p and log q
    # of each run's draws 1.002 and 1.008 (the two labellings fit equally well).
    assert (table.loc[["locs[0]", "locs[1]"], "r_hat"] > 1.1).all()
    assert (table.loc[["locs[0]", "locs[1]"], "agreement"] == "disagree").all()
    assert (table.loc[["sorted_locs[0]", "sorted_locs[1]", "log_p", "log_q"], "r_hat"] < 1.01).all()


def test_the_default_checks_global_latents_and_log_densities(mixture_runs):
    table = run_agreement(mixture_runs)
    assert list(table.index) == ["locs[0]", "locs[1]", "log_p", "log_q"]
    # log_p is each draw's log p(x, z) summed over the data, as stored.
    stored = mixture_runs.sample_stats["log_p"]
    assert stored.dims == ("chain", "draw")
    assert {"r_hat", "ess_bulk", "ess_tail"} <= set(table.columns)


@pytest.mark.slow
def test_rotation_of_a_factor_model_is_flagged_and_identifiable_quantities_agree():
    """A user's marginal PPCA (W ~ N(0, 1), noise ~ HalfNormal(1)) with a full-rank Gaussian guide,
    started at the PCA solution turned by a different random rotation per seed (0..3): W differs
    by its rotation (R-hat > 1.1), while W Wᵀ and the noise, which the model identifies, agree
    (R-hat < 1.01). Measured: W 2.85, W Wᵀ at most 1.006, noise 1.003 (1000 steps)."""
    data = load_dataset("linear_gaussian", num_train=300)
    x, (latent_dim, data_dim) = data.train, (3, 10)
    pca = PCA(latent_dim).fit(x.numpy())
    scale = np.sqrt(pca.explained_variance_ - pca.noise_variance_)
    start_W = torch.tensor(pca.components_.T * scale, dtype=torch.float32)
    start_noise = torch.tensor(float(np.sqrt(pca.noise_variance_)))
    mean = x.mean(0)

    def ppca(x):
        W = pyro.sample("W", dist.Normal(torch.zeros(data_dim, latent_dim), 1.0).to_event(2))
        noise = pyro.sample("noise", dist.HalfNormal(torch.tensor(1.0)))
        with pyro.plate("data", x.shape[0]):
            cov_diag = noise.pow(2).unsqueeze(-1).expand(W.shape[:-2] + (data_dim,))
            pyro.sample("x", dist.LowRankMultivariateNormal(mean, W, cov_diag), obs=x)

    runs = []
    for seed in range(NUM_RUNS):
        rotation, _ = torch.linalg.qr(
            torch.randn(latent_dim, latent_dim, generator=torch.Generator().manual_seed(seed))
        )
        start = init_to_value(values={"W": start_W @ rotation, "noise": start_noise})
        guide = AutoMultivariateNormal(ppca, init_loc_fn=start, init_scale=0.01)
        fit((ppca, guide), x, steps=1000, batch_size=None, lr=0.01, progress=False, seed=seed)
        runs.append((ppca, guide))
    tree = to_inference_data(runs, x, num_samples=500)
    W = tree.posterior["W"]
    tree["posterior"]["WWt"] = xr.dot(W, W.rename(W_dim_0="W_dim_0b"), dim="W_dim_1")
    table = run_agreement(tree, var_names=["noise", "WWt", "W"])
    assert table.filter(like="W[", axis=0)["r_hat"].max() > 1.1
    assert table.filter(like="WWt[", axis=0)["r_hat"].max() < 1.01
    assert table.loc[["noise", "log_p", "log_q"], "r_hat"].max() < 1.01
    # The truth the data were drawn with: noise 0.5.
    assert float(tree.posterior["noise"].mean()) == pytest.approx(0.5, abs=0.02)


def test_one_run_and_mismatched_runs_are_refused():
    data = load_dataset("linear_gaussian", num_train=40)
    torch.manual_seed(0)
    model = PPCA(10, 3).init_from_data(data.train)
    one = to_inference_data(model, data.train, num_samples=30)
    with pytest.raises(ValueError, match="R-hat across one run means nothing"):
        run_agreement(one)
    with pytest.raises(ValueError, match="no posterior variable 'W'"):
        run_agreement(to_inference_data([model, model.clone()], data.train, num_samples=30), ["W"])
    other = PPCA(10, 2).init_from_data(data.train)
    with pytest.raises(ValueError, match="run 1 differs from run 0: posterior.z has sizes"):
        to_inference_data([model, other], data.train, num_samples=30)
    with pytest.raises(ValueError, match="empty list of runs"):
        to_inference_data([], data.train)
    with pytest.raises(TypeError, match="run 1 of the list"):
        to_inference_data([model, "not a model"], data.train)
