"""``to_inference_data``: groups, dimensions and values against direct computation, netCDF and
Zarr round trips, a user's plain Pyro functions with a global latent through arviz-stats and
arviz-plots, several runs as chains, float64 log-densities, and clear errors."""

import warnings

import arviz_plots
import arviz_stats
import matplotlib.pyplot as plt
import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
import xarray as xr
from pyro.infer.autoguide import AutoNormal

from ppgen import PPCA, VAE, fit, load_dataset
from ppgen.analysis import information_criteria, to_inference_data
from ppgen.analysis.guide_draws import LOG_DENSITY_DESCRIPTIONS
from ppgen.models import BayesianPPCA
from ppgen.runs.analyze import posterior_summary


@pytest.fixture(scope="module")
def ppca_data():
    data = load_dataset("linear_gaussian", num_train=200)
    torch.manual_seed(0)
    return PPCA(10, 3).init_from_data(data.train), data.test[:40]


def test_groups_dims_and_shapes(ppca_data):
    model, x = ppca_data
    idata = to_inference_data(model, x, num_samples=30, prior=True)
    assert set(idata.children) == {
        "posterior",
        "posterior_predictive",
        "log_likelihood",
        "observed_data",
        "sample_stats",
        "prior",
    }
    assert idata.posterior["z"].dims == ("chain", "draw", "data", "z_dim_0")
    assert idata.posterior["z"].shape == (1, 30, 40, 3)
    assert idata.log_likelihood["x"].dims == ("chain", "draw", "data")
    assert idata.posterior_predictive["x"].shape == (1, 30, 40, 10)
    for name in ("log_p", "log_q", "log_weight"):
        assert idata.sample_stats[name].dims == ("chain", "draw", "data")
        assert idata.sample_stats[name].dtype == np.float64
        assert idata.sample_stats[name].attrs["description"] == LOG_DENSITY_DESCRIPTIONS[name]
    assert idata.log_likelihood["x"].dtype == np.float64
    assert idata.prior["z"].shape == (1, 30, 40, 3)
    np.testing.assert_array_equal(idata.observed_data["x"].values, x.numpy())


def test_values_match_a_direct_computation(ppca_data):
    """Each pointwise log-likelihood is log N(x_n; W z_sn + b, sigma^2 I) at the stored posterior
    draw; each log weight adds log p(z) - log q(z | x) to it."""
    model, x = ppca_data
    idata = to_inference_data(model, x, num_samples=20, log_likelihood="conditional")
    assert idata.attrs["log_likelihood"].startswith("conditional")
    z = torch.as_tensor(idata.posterior["z"].values[0])  # (draws, points, 3)
    with torch.no_grad():
        loc = z @ model.W.T + model.b
        log_lik = dist.Normal(loc, model.noise_variance().sqrt()).log_prob(x).sum(-1)
        log_prior = dist.Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_q = model.variational_posterior(x).log_prob(z)
    np.testing.assert_allclose(idata.log_likelihood["x"].values[0], log_lik.numpy(), rtol=1e-5)
    stats = idata.sample_stats
    np.testing.assert_allclose(stats["log_p"].values[0], (log_lik + log_prior).numpy(), rtol=1e-5)
    np.testing.assert_allclose(stats["log_q"].values[0], log_q.numpy(), rtol=1e-5)
    weight = (log_lik + log_prior - log_q).numpy()
    np.testing.assert_allclose(stats["log_weight"].values[0], weight, rtol=1e-4)
    np.testing.assert_array_equal(stats["log_weight"], stats["log_p"] - stats["log_q"])


def test_marginal_log_likelihood_sums_to_the_exact_log_prob(ppca_data):
    """PPCA's default log-likelihood integrates z out: log N(x_n; b, W W^T + sigma^2 I), the same
    in every draw (the parameters are point estimates), so each draw sums to model.log_prob."""
    model, x = ppca_data
    idata = to_inference_data(model, x, num_samples=15)
    assert idata.attrs["log_likelihood"].startswith("marginal")
    log_lik = idata.log_likelihood["x"].values[0]  # (draws, points)
    exact = model.log_prob(x).detach().numpy()
    np.testing.assert_allclose(log_lik, np.broadcast_to(exact, log_lik.shape), rtol=1e-6)
    np.testing.assert_allclose(log_lik.sum(1), exact.sum(), rtol=1e-6)


def test_a_users_marginal_program_is_replayed_on_the_guide(ppca_data):
    """A (model, guide) pair has no marginal_model attribute; passing the program works."""
    model, x = ppca_data
    pair = (model.model, model.guide)
    idata = to_inference_data(pair, x, num_samples=4, log_likelihood=model.marginal_model)
    assert "user's marginal program" in idata.attrs["log_likelihood"]
    exact = model.log_prob(x).detach().numpy()
    np.testing.assert_allclose(idata.log_likelihood["x"].values[0, 0], exact, rtol=1e-6)


@pytest.mark.parametrize("store", ["netcdf", "zarr"])
def test_round_trip_is_exact(ppca_data, tmp_path, store):
    """Every group, value, dtype and attribute comes back identical (``identical``)."""
    model, x = ppca_data
    idata = to_inference_data([model, model.clone()], x, num_samples=10, prior=True)
    if store == "netcdf":
        idata.to_netcdf(tmp_path / "run.nc")
        again = xr.open_datatree(tmp_path / "run.nc")
    else:
        idata.to_zarr(tmp_path / "run.zarr")
        again = xr.open_datatree(tmp_path / "run.zarr", engine="zarr")
    assert set(again.children) == set(idata.children)
    assert again.attrs == idata.attrs
    for group in idata.children:
        assert idata[group].to_dataset().identical(again[group].to_dataset()), group


def test_a_users_plain_functions_with_a_global_latent():
    """A plain Pyro model with an AutoNormal guide, trained by ppgen, through to_inference_data,
    arviz-stats' summary and LOO, and an arviz-plots figure."""
    pyro.clear_param_store()
    torch.manual_seed(0)
    x = torch.randn(25, 2) + 2.0

    def model(data):
        loc = pyro.sample("loc", dist.Normal(torch.zeros(2), 10.0).to_event(1))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Normal(loc, 1.0).to_event(1), obs=data)

    guide = AutoNormal(model)
    fit((model, guide), x, steps=1500, batch_size=None, lr=0.05, progress=False)
    idata = to_inference_data((model, guide), x, num_samples=400)
    assert list(idata.posterior.data_vars) == ["loc"]  # not AutoNormal's auxiliary site
    assert idata.posterior["loc"].dims == ("chain", "draw", "loc_dim_0")
    assert idata.sample_stats["log_weight"].dims == ("chain", "draw")  # one joint weight
    loc = torch.as_tensor(idata.posterior["loc"].values[0])  # (draws, 2)
    expected = dist.Normal(loc[:, None], 1.0).log_prob(x).sum(-1)
    np.testing.assert_allclose(idata.log_likelihood["obs"].values[0], expected.numpy(), rtol=1e-5)
    # No local latents: the stored log-likelihood is already marginal, and LOO accepts it.
    assert idata.attrs["log_likelihood"].startswith("marginal")
    # arviz-stats and arviz-plots take the tree as it is, one run without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = arviz_stats.summary(idata, var_names=["loc"], kind="stats")
        loo = arviz_stats.loo(idata)
        collection = arviz_plots.plot_dist(idata, var_names=["loc"], backend="matplotlib")
    assert list(summary.index) == ["loc[0]", "loc[1]"]
    # The posterior of loc is N(sum(x) / (n + 1/100), 1 / (n + 1/100)) per coordinate, sd 0.2;
    # the guide's family holds it. Tolerance 0.05: 5 Monte Carlo errors of 400 draws (0.01)
    # plus what 1500 Adam steps leave.
    n = len(x)
    exact_mean = x.sum(0).numpy() / (n + 0.01)
    np.testing.assert_allclose(summary["mean"].astype(float), exact_mean, atol=0.05)
    np.testing.assert_allclose(summary["sd"].astype(float), (n + 0.01) ** -0.5, rtol=0.15)
    assert loo.p == pytest.approx(2.0, abs=1.0)
    assert information_criteria(idata).loc["loo", "elpd"] == pytest.approx(loo.elpd, rel=1e-12)
    assert len(collection.viz["figure"].item().axes) == 2
    plt.close("all")


def test_dims_and_coords_can_be_overridden(ppca_data):
    model, x = ppca_data
    idata = to_inference_data(
        model,
        x[:3],
        num_samples=5,
        dims={"z": ["image", "factor"]},
        coords={"factor": ["a", "b", "c"]},
    )
    assert idata.posterior["z"].dims == ("chain", "draw", "image", "factor")
    assert list(idata.posterior["factor"].values) == ["a", "b", "c"]


def test_bad_input(ppca_data):
    model, x = ppca_data
    with pytest.raises(ValueError, match="num_samples"):
        to_inference_data(model, x, num_samples=0)
    with pytest.raises(ValueError, match="NaN"):
        to_inference_data(model, torch.full_like(x, float("nan")))
    with pytest.raises(ValueError, match="features per point"):
        to_inference_data(model, x[:, :4])
    with pytest.raises(ValueError, match="log_likelihood must be"):
        to_inference_data(model, x, log_likelihood="marginall")


def test_marginal_is_refused_where_latents_do_not_integrate_out():
    vae = VAE(10, latent_dim=2)
    with pytest.raises(ValueError, match="no marginal_model"):
        to_inference_data(
            vae, torch.randn(5, 10).gt(0).float(), num_samples=3, log_likelihood="marginal"
        )
    idata = to_inference_data(
        vae, torch.randn(5, 10).gt(0).float(), num_samples=3
    )  # auto: conditional
    assert idata.attrs["log_likelihood"].startswith("conditional")


def test_bayesian_ppca_has_global_posteriors_and_their_marginal_log_likelihood(ppca_data):
    """W and the noise are drawn from the guide; the stored log-likelihood is
    log N(x_n; b, W_s W_s^T + sigma_s^2 I) at each draw, with num_data = 1000 while 40 points
    are analysed (the globals' minibatch scale stays out of the stored values)."""
    _, x = ppca_data
    torch.manual_seed(1)
    model = BayesianPPCA(10, 3, num_data=1000).init_from_data(x)
    idata = to_inference_data(model, x, num_samples=12)
    assert idata.posterior["W"].dims == ("chain", "draw", "W_dim_0", "W_dim_1")
    assert idata.posterior["noise_std"].dims == ("chain", "draw")
    assert idata.attrs["global_latents"] == "W,noise_std"
    W = torch.as_tensor(idata.posterior["W"].values[0])  # (draws, 10, 3)
    noise = torch.as_tensor(idata.posterior["noise_std"].values[0])  # (draws,)
    variance = noise[:, None].pow(2).expand(-1, 10)
    marginal = dist.LowRankMultivariateNormal(model.b.detach(), W, variance)
    expected = marginal.log_prob(x[:, None]).T  # (draws, points)
    np.testing.assert_allclose(idata.log_likelihood["x"].values[0], expected.numpy(), rtol=1e-5)
    assert idata.sample_stats["log_weight"].dims == ("chain", "draw")


def test_one_run_summarises_without_a_warning_and_several_runs_carry_r_hat(ppca_data):
    """ArviZ 0.23's summary of one SVI run printed shape warnings and about twenty
    RuntimeWarnings; ppgen's summary of one run is the statistics alone, with no warning at all,
    and with several runs it adds R-hat and ESS across them."""
    _, x = ppca_data
    torch.manual_seed(2)
    model = BayesianPPCA(10, 2).init_from_data(x)
    one = to_inference_data(model, x[:20], num_samples=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = posterior_summary(one)
        arviz_stats.summary(one)  # ArviZ's own default (R-hat NaN for one chain), also quiet
    assert "r_hat" not in summary and len(summary) == 1 + 10 * 2 + 20 * 2  # noise, W, z
    several = to_inference_data([model, model.clone()], x[:20], num_samples=100)
    summary = posterior_summary(several)
    # Two runs of the same fit agree.
    assert summary.loc["noise_std", "r_hat"] < 1.05
    assert {"ess_bulk", "ess_tail", "mcse_mean"} <= set(summary.columns)


def test_issue_18_models_convert_with_their_own_sites():
    """DRAW's steps and a diffusion chain's levels become posterior variables per data point; an
    ensemble of NADE orderings stores its exact mixture log-likelihood (the marginal program)."""
    from ppgen.models import DRAW, NADE, Diffusion

    torch.manual_seed(0)
    x = torch.rand(10, 16).round()
    draw = to_inference_data(DRAW(16, steps=3, latent_dim=2, hidden_dim=8), x, num_samples=30)
    assert list(draw["posterior"].data_vars) == ["z_0", "z_1", "z_2"]
    assert draw["posterior"]["z_1"].shape == (1, 30, 10, 2)
    chain = to_inference_data(Diffusion(16, steps=4, hidden_dims=(8,)), x, num_samples=30)
    assert list(chain["posterior"].data_vars) == ["y_1", "y_2", "y_3", "y_4"]
    nade = NADE(16, hidden_dim=8, num_orderings=3)
    tree = to_inference_data(nade, x, num_samples=30)
    exact = nade.double().log_prob(x.double()).detach().numpy()
    np.testing.assert_allclose(
        tree["log_likelihood"]["x"].values[0], np.tile(exact, (30, 1)), rtol=1e-10
    )
