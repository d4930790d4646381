"""Users' own Pyro programs through ``fit`` and the estimators, as Pyro users write them (issue 14):
any plate name, nested and sequential plates, subsampling, global latents, autoguides, data of any
form, and refusals that name the site and the reason before any training step.

Exact references: conjugate Gaussian models whose posterior and evidence are closed forms.
"""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer.autoguide import AutoNormal

from ppgen import fit
from ppgen.evaluation import joint_log_likelihood, log_likelihood
from ppgen.inference import get_estimator
from ppgen.program.errors import ProgramError
from ppgen.program.inspection import inspect_program
from ppgen.program.particles import SequentialDrawsWarning
from ppgen.training.batch_order import BatchOrder

# ----- programs --------------------------------------------------------------------------------


def local_model(x):
    """z_n ~ N(0, 1), x_n ~ N(z_n, 1) in a plate called "batch": p(z_n | x_n) = N(x_n / 2, 1/2)."""
    with pyro.plate("batch", x.shape[0]):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("obs", dist.Normal(z, 1.0), obs=x)


def exact_local_guide(x):
    with pyro.plate("batch", x.shape[0]):
        pyro.sample("z", dist.Normal(x / 2, math.sqrt(0.5)))


PRIOR_SCALE = 2.0


def global_model(x):
    """mu ~ N(0, 2^2), x_n ~ N(mu, 1): the evidence is N(0, I + 4 11^T)."""
    mu = pyro.sample("mu", dist.Normal(0.0, PRIOR_SCALE))
    with pyro.plate("points", x.shape[0]):
        pyro.sample("obs", dist.Normal(mu, 1.0), obs=x)


def global_posterior(x):
    precision = 1 / PRIOR_SCALE**2 + len(x)
    return x.sum() / precision, precision**-0.5


def global_setup():
    """Data, the exact log evidence, and guides q(mu) = N(mu_N, (factor s_N)^2)."""
    torch.manual_seed(0)
    x = torch.randn(10) + 1.0
    loc, scale = global_posterior(x)

    def guide_with(factor):
        def guide(x):
            pyro.sample("mu", dist.Normal(loc, factor * scale))

        return guide

    return x, float(exact_log_evidence(x)), guide_with


def exact_log_evidence(x):
    n = len(x)
    cov = torch.eye(n) + PRIOR_SCALE**2 * torch.ones(n, n)
    return dist.MultivariateNormal(torch.zeros(n), cov).log_prob(x)


# ----- full batches and per-row parameters -----------------------------------------------------


def test_full_batch_order_never_reorders_rows():
    order = BatchOrder(10, 10, torch.Generator().manual_seed(0), "cpu")
    for _ in range(3):
        assert torch.equal(order.next_index(), torch.arange(10))


def test_autonormal_on_local_latents_full_batch_finds_each_rows_posterior():
    """Per-row guide parameters stay with their rows: AutoNormal's loc_n reaches x_n / 2 (the
    exact posterior mean, within 0.1) for every row when fit runs full-batch."""
    pyro.set_rng_seed(0)
    x = torch.randn(40) * 2
    guide = AutoNormal(local_model)
    fit((local_model, guide), x, batch_size=None, steps=1500, lr=0.05, progress=False)
    loc = guide.locs.z.detach()
    assert torch.allclose(loc, x / 2, atol=0.1), (loc - x / 2).abs().max()


def test_per_row_guide_with_minibatches_is_refused_with_the_fix():
    x = torch.randn(100)
    with pytest.raises(ProgramError, match=r"AutoNormal over local latent.*subsample_size"):
        fit((local_model, AutoNormal(local_model)), x, batch_size=10, steps=3, progress=False)


def test_program_that_subsamples_itself_trains_per_row_guides_like_pyro():
    """Pyro's idiom for per-row guides with minibatches: the program subsamples its own plate.
    ppgen passes all rows; the AutoNormal means reach x_n / 2 as in Pyro's own SVI loop."""

    def model(x):
        with pyro.plate("data", len(x), subsample_size=20) as idx:
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x[idx])

    pyro.set_rng_seed(0)
    x = torch.randn(60) * 2
    guide = AutoNormal(model)
    result = fit((model, guide), x, steps=3000, lr=0.05, progress=False)
    assert torch.allclose(guide.locs.z.detach(), x / 2, atol=0.15)
    # The loss is per data point of the full data (the plate scales by 60 / 20).
    exact = -float(exact_local_elbo(x)) / len(x)
    assert result.history["loss"].iloc[-20:].mean() == pytest.approx(exact, abs=0.15)


def exact_local_elbo(x):
    """The ELBO at the exact posterior is log p(x) = sum_n log N(x_n; 0, 2)."""
    return dist.Normal(0.0, math.sqrt(2.0)).log_prob(x).sum()


# ----- any plate name, sequential plates, data of any form ------------------------------------


@pytest.mark.parametrize("name", ["iwae", "dreg", "vimco", "rws"])
def test_multi_sample_bounds_on_any_plate_name_with_the_exact_guide_are_log_p(name):
    """With the exact posterior as guide every weight equals p(x): each K-sample bound is
    log p(x) whatever K, for a plate named "batch"."""
    x = torch.randn(7)
    estimator = get_estimator(name, num_particles=4)
    value = -estimator(local_model, exact_local_guide, x)
    assert float(value) == pytest.approx(float(exact_local_elbo(x)), abs=1e-4)


def test_sequential_inner_plate_log_likelihood_is_exact():
    """x_nd ~ N(z_n, 1) over a sequential plate of D = 3: with the exact posterior
    N(sum_d x_nd / (D + 1), 1 / (D + 1)) as guide, log_likelihood is log N(x_n; 0, I + 11^T)."""

    def model(x):
        with pyro.plate("rows", x.shape[0]):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            for d in pyro.plate("dims", x.shape[1]):
                pyro.sample(f"x_{d}", dist.Normal(z, 1.0), obs=x[:, d])

    def guide(x):
        with pyro.plate("rows", x.shape[0]):
            pyro.sample("z", dist.Normal(x.sum(-1) / 4, 0.5))

    x = torch.randn(5, 3)
    estimate = log_likelihood((model, guide), x, num_samples=10)
    exact = dist.MultivariateNormal(torch.zeros(3), torch.eye(3) + 1).log_prob(x)
    assert torch.allclose(estimate, exact, atol=1e-4)


def test_tuple_dict_and_unbatched_arguments_reach_the_program():
    """A mask batched with the data (tuple and dict forms) and an unbatched scale argument: the
    masked rows do not count, so the loss equals the unmasked rows' exact negative ELBO."""

    def model(x, mask, scale=1.0):
        with pyro.plate("data", x.shape[0]), pyro.poutine.mask(mask=mask):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, scale), obs=x)

    def guide(x, mask, scale=1.0):
        shift = pyro.param("mask_shift", torch.tensor(0.0))  # the exact posterior at 0
        with pyro.plate("data", x.shape[0]), pyro.poutine.mask(mask=mask):
            pyro.sample("z", dist.Normal(x / 2 + shift, math.sqrt(0.5)))

    x = torch.randn(20)
    mask = torch.arange(20) < 12
    # At the exact posterior every weight is p(x_n): the loss per row is deterministic.
    expected = -float(exact_local_elbo(x[:12])) / 20
    for data in [(x, mask), {"x": x, "mask": mask}]:
        result = fit(
            (model, guide),
            data,
            model_kwargs={"scale": 1.0},
            batch_size=None,
            steps=2,
            lr=1e-6,
            progress=False,
        )
        assert result.history["loss"].iloc[-1] == pytest.approx(expected, abs=1e-4)


def test_sequences_images_counts_and_data_free_programs_train():
    """Data of any shape reaches the program unchanged: (N, T, D) sequences with a pyro.markov
    chain, (N, C, H, W) images, integer counts, and a program without data."""
    torch.manual_seed(0)

    def sequence_model(x):
        with pyro.plate("seqs", x.shape[0]):
            h = torch.zeros(x.shape[0])
            for t in pyro.markov(range(x.shape[1])):
                h = pyro.sample(f"h_{t}", dist.Normal(0.9 * h, 1.0))
                mean = h.unsqueeze(-1).expand(h.shape + (x.shape[2],))
                pyro.sample(f"x_{t}", dist.Normal(mean, 0.5).to_event(1), obs=x[:, t])

    def sequence_guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("seqs", x.shape[0]):
            for t in pyro.markov(range(x.shape[1])):
                pyro.sample(f"h_{t}", dist.Normal(w * x[:, t].mean(-1), 0.5))

    sequences = torch.randn(30, 6, 2)
    for estimator in ("trace", "iwae", "vimco"):
        result = fit(
            (sequence_model, sequence_guide),
            sequences,
            estimator=estimator,
            num_particles=3,
            steps=30,
            batch_size=10,
            lr=0.05,
            progress=False,
        )
        assert result.history["step"].iloc[-1] == 30
    assert torch.isfinite(log_likelihood((sequence_model, sequence_guide), sequences, 20)).all()

    def image_model(x):
        rate = pyro.param("rate", torch.tensor(2.0), constraint=dist.constraints.positive)
        with pyro.plate("images", x.shape[0]):
            pyro.sample("pix", dist.Poisson(rate).expand(x.shape[1:]).to_event(3), obs=x)

    counts = torch.poisson(torch.full((40, 1, 4, 4), 3.0))
    result = fit((image_model, lambda x: None), counts, steps=400, lr=0.05, progress=False)
    assert result.params["rate"] == pytest.approx(float(counts.mean()), rel=0.05)

    def free_model():
        loc = pyro.param("free_loc", torch.tensor(0.0))
        pyro.sample("y", dist.Normal(loc, 1.0), obs=torch.tensor(2.0))

    result = fit((free_model, lambda: None), None, steps=500, lr=0.05, progress=False)
    assert result.params["free_loc"] == pytest.approx(2.0, abs=0.05)


# ----- global latents --------------------------------------------------------------------------


def test_joint_bounds_with_a_global_latent_stay_below_log_p_and_tighten_with_k():
    """Bounds over the joint of the global mean and the batch: exact at the exact posterior; with
    a guide twice too wide, below log p(x_1..N) and rising with K (means of 400 draws, 4 s.e.)."""
    x, exact, guide_with = global_setup()

    value = -get_estimator("iwae", num_particles=3)(global_model, guide_with(1.0), x)
    assert float(value) == pytest.approx(exact, abs=1e-4)
    means = []
    for k in (1, 5, 50):
        estimator = get_estimator("iwae", num_particles=k)
        draws = torch.stack([-estimator(global_model, guide_with(2.0), x) for _ in range(400)])
        mean, se = float(draws.mean()), float(draws.std() / 20)
        assert mean < exact + 4 * se
        means.append(mean)
    assert means[0] < means[1] < means[2] < exact + 1e-3


def test_global_latent_with_minibatches_gets_the_full_data_posterior():
    """With batch_size=25 of 200 rows ppgen scales the data plate by 200/25, so AutoNormal's
    q(mu) matches the full-data posterior: mean within 0.05, scale within 25%."""
    pyro.set_rng_seed(0)
    x = torch.randn(200) + 1.5
    guide = AutoNormal(global_model)
    fit((global_model, guide), x, batch_size=25, steps=3000, lr=0.02, progress=False)
    loc, scale = global_posterior(x)
    assert float(guide.locs.mu) == pytest.approx(float(loc), abs=0.05)
    assert float(guide.scales.mu) == pytest.approx(scale, rel=0.25)


# ----- refusals --------------------------------------------------------------------------------


def test_meanfield_and_dreg_refuse_a_discrete_guide_naming_the_site():
    """iwae trains discrete guides with a score-function term since issue 26
    (tests/inference/test_iwae.py); the analytic-KL ELBO and DReG need reparameterized sites."""

    def model(x):
        with pyro.plate("data", x.shape[0]):
            c = pyro.sample("c", dist.Bernoulli(0.5))
            pyro.sample("obs", dist.Normal(c, 1.0), obs=x)

    def guide(x):
        p = pyro.param("p", torch.tensor(0.5), constraint=dist.constraints.unit_interval)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("c", dist.Bernoulli(p))

    for name in ("meanfield", "dreg"):
        with pytest.raises(ProgramError, match=r"site\(s\) 'c'.*apply to this program: .*vimco"):
            fit((model, guide), torch.randn(10), estimator=name, steps=3, progress=False)


def test_a_program_that_breaks_under_vectorized_draws_is_named_and_drawn_one_at_a_time():
    """Indexing from the left breaks when draws get a leading dimension; the warning names the
    site completed before the failure and the rule, and the samples are drawn one at a time
    (issue 26: a refusal before, where Pyro's RenyiELBO runs such programs sequentially)."""

    def model(x):
        w = pyro.param("w", torch.ones(3))
        with pyro.plate("data", x.shape[0], dim=-1):
            z = pyro.sample("z", dist.Normal(0.0, 1.0).expand([3]).to_event(1))
            mean = torch.stack([z[:, 0], z[:, 1]], -1) @ w[:2, None]  # z[:, i]: from the left
            pyro.sample("obs", dist.Normal(mean.squeeze(-1), 1.0), obs=x)

    def guide(x):
        with pyro.plate("data", x.shape[0], dim=-1):
            pyro.sample("z", dist.Normal(0.0, 1.0).expand([3]).to_event(1))

    with pytest.warns(SequentialDrawsWarning, match=r"vectorized draws after site 'z'.*right"):
        result = fit(
            (model, guide),
            torch.randn(8),
            estimator="iwae",
            num_particles=4,
            steps=2,
            progress=False,
        )
    assert result.history["loss"].notna().all() and len(result.history) == 2


def test_unknown_data_plate_name_is_refused():
    with pytest.raises(ProgramError, match="no plate of that name; its plates are"):
        inspect_program(local_model, exact_local_guide, (torch.randn(3),), data_plate="data")


def test_two_pairs_with_the_same_param_name_do_not_share_values():
    """Issue 14, finding 9: each plain pair keeps its own pyro.param store."""

    def make_pair(target):
        def model(x):
            loc = pyro.param("shared_loc", torch.tensor(0.0))
            with pyro.plate("data", x.shape[0]):
                pyro.sample("obs", dist.Normal(loc, 1.0), obs=x)

        def guide(x):
            pass

        return model, guide, torch.full((20,), target)

    first_model, first_guide, first_x = make_pair(5.0)
    fit((first_model, first_guide), first_x, steps=400, lr=0.1, progress=False)
    second_model, second_guide, second_x = make_pair(-5.0)
    result = fit((second_model, second_guide), second_x, steps=1, lr=1e-6, progress=False)
    # The second pair started from its own initial value 0, not from the first pair's 5.
    assert float(result.params["shared_loc"]) == pytest.approx(0.0, abs=1e-3)
    # After fit, Pyro's global store holds the last trained pair's values, as after svi.step.
    assert float(pyro.param("shared_loc")) == pytest.approx(0.0, abs=1e-3)
    # Training the first pair again continues from its own 5.
    again = fit((first_model, first_guide), first_x, steps=1, lr=1e-6, progress=False)
    assert float(again.params["shared_loc"]) == pytest.approx(5.0, abs=0.05)


def test_log_likelihood_of_a_global_model_joint_and_posterior_predictive_closed_forms():
    """Conjugate normal mean: joint_log_likelihood with the exact posterior as guide is
    log N(x; 0, I + 4 11^T) (every weight equal); with a guide twice too wide it stays below and
    approaches it as S grows. The posterior predictive of new points is N(mu_N, 1 + s_N^2)."""
    x, exact, guide_with = global_setup()

    joint = joint_log_likelihood((global_model, guide_with(1.0)), x, num_samples=50)
    assert float(joint) == pytest.approx(exact, abs=1e-4)
    # One draw from a guide twice too wide: the ELBO, exact - KL(q || p), KL = 2 - 1/2 - log 2.
    wide_pair = (global_model, guide_with(2.0))
    single = torch.stack([joint_log_likelihood(wide_pair, x, num_samples=1) for _ in range(400)])
    kl = 2 - 0.5 - math.log(2)
    assert float(single.mean()) == pytest.approx(exact - kl, abs=4 * float(single.std()) / 20)
    many = float(joint_log_likelihood(wide_pair, x, num_samples=20000))
    assert exact - 0.02 < many < exact + 1e-3
    with pytest.raises(ProgramError, match="kind='predictive'"):
        log_likelihood((global_model, guide_with(1.0)), x, num_samples=10)
    new = torch.tensor([-1.0, 0.5, 3.0])
    predictive = log_likelihood(
        (global_model, guide_with(1.0)), new, num_samples=20000, kind="predictive"
    )
    loc, scale = global_posterior(x)
    closed_form = dist.Normal(loc, math.sqrt(1 + scale**2)).log_prob(new)
    assert torch.allclose(predictive, closed_form, atol=0.01), (predictive, closed_form)


def test_autonormal_with_minibatches_matches_pyros_own_svi_loop():
    """Per-row guides: the same self-subsampling program and AutoNormal guide, trained by ppgen's
    fit and by Pyro's own SVI loop (Trace_ELBO, Adam at the same constant lr, the same number of
    steps). ppgen visits the rows in its own seeded epochs and Pyro draws them independently, so
    the runs differ by their noise: the means agree within 0.15 on average over rows (measured:
    0.088), and on average both lie within 0.1 of the exact x_n / 2 (measured: 0.065 and
    0.057)."""

    def model(x):
        with pyro.plate("data", len(x), subsample_size=16) as idx:
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x[idx])

    x = torch.randn(48, generator=torch.Generator().manual_seed(1)) * 2
    steps, lr = 3000, 0.01
    pyro.set_rng_seed(0)
    ours = AutoNormal(model)
    fit((model, ours), x, steps=steps, lr=lr, lr_schedule="constant", progress=False)
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    theirs = AutoNormal(model)
    svi = pyro.infer.SVI(model, theirs, pyro.optim.Adam({"lr": lr}), pyro.infer.Trace_ELBO())
    for _ in range(steps):
        svi.step(x)
    ours_loc, theirs_loc = ours.locs.z.detach(), theirs.locs.z.detach()
    assert float((ours_loc - theirs_loc).abs().mean()) < 0.15
    for loc in (ours_loc, theirs_loc):
        assert float((loc - x / 2).abs().mean()) < 0.1


def test_a_torch_dataset_and_dataloader_reach_the_program():
    """A TensorDataset of (x, y) pairs and a DataLoader over it (its batch size is used) give the
    same rows as the tuple (x, y): the fitted intercept is the same, within 1e-4."""
    from torch.utils.data import DataLoader, TensorDataset

    def model(x, y):
        b = pyro.param("intercept", torch.tensor(0.0))
        with pyro.plate("data", len(x)):
            pyro.sample("y", dist.Normal(b + x, 1.0), obs=y)

    x = torch.randn(64)
    y = x + 2.0 + 0.1 * torch.randn(64)
    results = []
    for data, batch_size in [
        ((x, y), 16),
        (TensorDataset(x, y), 16),
        (DataLoader(TensorDataset(x, y), batch_size=16), "auto"),
    ]:
        result = fit(
            (model, lambda x, y: None),
            data,
            batch_size=batch_size,
            steps=300,
            lr=0.05,
            progress=False,
        )
        results.append(float(result.params["intercept"]))
    assert results[0] == pytest.approx(results[1], abs=1e-4) == pytest.approx(results[2], abs=1e-4)
    assert results[0] == pytest.approx(2.0, abs=0.1)


def test_deterministic_sites_are_neither_data_nor_latents():
    """pyro.deterministic records (a global one and a local one) do not hide the data plate, do
    not make weights joint, and do not change log p(x)."""

    def model(x):
        mu = pyro.sample("mu", dist.Normal(0.0, 3.0))
        pyro.deterministic("mu_twice", 2 * mu)
        with pyro.plate("data", len(x)):
            pyro.sample("obs", dist.Normal(mu, 1.0), obs=x)

    info = inspect_program(model, AutoNormal(model), (torch.randn(20),), {})
    assert info.data_plate == "data" and info.global_latents == ("mu",)
    fit((model, AutoNormal(model)), torch.randn(200), batch_size=50, steps=5, progress=False)

    def local(x):
        with pyro.plate("batch", x.shape[0]):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.deterministic("z_twice", 2 * z)
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    x = torch.randn(6)
    estimate = log_likelihood((local, exact_local_guide), x, num_samples=3)
    assert torch.allclose(estimate, dist.Normal(0.0, math.sqrt(2.0)).log_prob(x), atol=1e-5)


def test_a_self_subsampling_plate_gets_ppgens_rows_every_row_once_per_epoch():
    """Minibatch indices reach the program: over one epoch (60 rows, 15 per step, 4 steps) the
    plate of a program that subsamples itself sees every row exactly once, in ppgen's seeded
    order; the same seed gives the same rows."""
    seen = []

    def model(x):
        with pyro.plate("data", len(x), subsample_size=15) as idx:
            seen.append(idx.clone())
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x[idx])

    x = torch.randn(60)
    runs = []
    for _ in range(2):
        seen.clear()
        fit((model, AutoNormal(model)), x, steps=4, seed=3, compile=False, progress=False)
        runs.append(torch.cat(seen[-4:]))  # the model's plate in the four training steps
    assert torch.equal(runs[0].sort().values, torch.arange(60))
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize(
    "data, options, error, match",
    [
        ((torch.randn(5), torch.tensor([1.0, float("nan"), 0, 0, 0])), {}, ValueError,
         r"data\[1\] contains 1 NaN"),
        ((torch.randn(5), torch.randn(4)), {}, ValueError, "same number of rows"),
        ({"x": torch.randn(5)}, {"model_kwargs": {"x": 1}}, ValueError, "both in data and in"),
        ({}, {}, ValueError, "empty dict; pass None"),
        (torch.zeros(0, 3), {}, ValueError, "is empty"),
        (torch.randn(5, dtype=torch.cfloat), {}, TypeError, "real tensors"),
        ([1.0, 2.0], {}, TypeError, r"data\[0\] must be a torch.Tensor"),
        (torch.randn(5), {"batch_size": True}, ValueError, "batch_size must be a positive int"),
        (torch.randn(5), {"model_args": 3}, TypeError, "model_args must be a tuple"),
        (torch.randn(5), {"data_plate": "rows"}, ProgramError, "no plate of that name"),
    ],
)  # fmt: skip
def test_bad_data_is_refused_by_name_before_training(data, options, error, match):
    def model(*args, **kwargs):
        pyro.param("never_trained", torch.zeros(1))
        raise AssertionError("the program must not run")

    with pytest.raises(error, match=match):
        fit((local_model if "data_plate" in options else model, lambda *a, **k: None), data,
            steps=2, progress=False, **options)  # fmt: skip


# ----- issue 26: one regression program per failure class ---------------------------------------


def test_dreg_passes_keyword_data_to_a_module_program():
    """A conditional model taking its labels as a keyword, written as a PyroModule's methods:
    DReG evaluated it with constant parameters through ``call(*args)``, dropping ``y``."""

    class Conditional(pyro.nn.PyroModule):
        def __init__(self):
            super().__init__()
            self.decoder = torch.nn.Linear(2 + 3, 2)

        def model(self, x, y=None):
            with pyro.plate("data", len(x)):
                z = pyro.sample("z", dist.Normal(x.new_zeros(2), 1.0).to_event(1))
                hot = torch.nn.functional.one_hot(y, 3).to(z).expand(z.shape[:-1] + (3,))
                loc = self.decoder(torch.cat([z, hot], -1))
                pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)

        def guide(self, x, y=None):
            with pyro.plate("data", len(x)):
                pyro.sample("z", dist.Normal(x, 0.8).to_event(1))

    net = Conditional()
    data = {"x": torch.randn(20, 2), "y": torch.arange(20) % 3}
    result = fit((net.model, net.guide), data, estimator="dreg", num_particles=3, steps=30,
                 lr=0.01, progress=False)  # fmt: skip
    assert result.objective == "dreg" and result.history["loss"].notna().all()
    assert result.history["loss"].iloc[-1] < result.history["loss"].iloc[0]


def factor_program():
    """A pyro.factor on the global outside the data plate, and the likelihood inside it."""

    def model(x):
        mu = pyro.sample("mu", dist.Normal(0.0, 3.0))
        pyro.factor("soft_prior", -0.5 * mu**2)
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(mu, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        pyro.sample("mu", dist.Normal(pyro.param("mu_loc", torch.tensor(0.0)), 0.3))
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(x / 2, 0.7))

    return model, guide


def test_a_factor_outside_the_data_plate_is_not_an_observation():
    """It counted as an observed site, so no plate was shared by every observation and none
    was the data plate: minibatches were refused, evaluations had no points."""
    model, guide = factor_program()
    info = inspect_program(model, guide, (torch.randn(7),), num_rows=7)
    assert info.data_plate == "data" and info.local_latents == ("z",)
    assert info.global_latents == ("mu",)
    result = fit((model, guide), torch.randn(40), batch_size=10, steps=5, progress=False)
    assert len(result.history) == 5


def test_the_evaluations_take_the_data_plate_by_name():
    """data_plate= was passed on to the model (a TypeError); now it names the plate."""

    def model(x):
        with pyro.plate("points", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        with pyro.plate("points", len(x)):
            pyro.sample("z", dist.Normal(x / 2, 0.5**0.5))  # the exact posterior

    x = torch.randn(6)
    exact = dist.Normal(0.0, 2**0.5).log_prob(x)
    estimate = log_likelihood((model, guide), x, num_samples=3, data_plate="points")
    torch.testing.assert_close(estimate, exact, rtol=0, atol=1e-5)  # an exact guide: any k
    with pytest.raises(ProgramError, match="no plate of that name"):
        log_likelihood((model, guide), x, num_samples=3, data_plate="rows")


def test_the_data_plate_is_the_plate_over_the_rows_not_a_plate_of_their_size():
    """With data (5, 5), the inner plate 'data' holds the rows (dim 0 of the observed value)
    while 'features', entered first, has the same size: it was taken for the data plate by
    its size, and the per-point latent was treated as a global one."""

    def model(x):
        with pyro.plate("features", x.shape[1], dim=-1), pyro.plate("data", x.shape[0], dim=-2):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        with pyro.plate("features", x.shape[1], dim=-1), pyro.plate("data", x.shape[0], dim=-2):
            pyro.sample("z", dist.Normal(x / 2, 0.5**0.5))

    x = torch.randn(5, 5)
    info = inspect_program(model, guide, (x,), num_rows=5)
    assert info.data_plate == "data" and info.local_latents == ("z",)
    per_row = dist.Normal(0.0, 2**0.5).log_prob(x).sum(-1)  # exact, summed over features
    torch.testing.assert_close(log_likelihood((model, guide), x, num_samples=2), per_row)


def test_several_plates_of_the_data_size_warn_when_position_cannot_tell():
    def model(x):  # the observed value has no axis of the data's rows: size alone decides
        with pyro.plate("a", 4, dim=-2), pyro.plate("b", 4, dim=-1):
            pyro.sample("obs", dist.Normal(0.0, 1.0), obs=x.sum())

    with pytest.warns(UserWarning, match=r"plates \['a', 'b'\] all have the data's 4 rows"):
        info = inspect_program(model, lambda x: None, (torch.randn(4, 3),), num_rows=4)
    assert info.data_plate == "a"
