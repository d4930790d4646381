"""GPU runs: the same code on CUDA (skipped cleanly without CUDA)."""

import pytest
import torch

from ppgen import PPCA, fit, load_dataset
from ppgen.evaluation import log_likelihood

pytestmark = pytest.mark.gpu


def test_ppca_trains_and_scores_on_cuda_with_auto_device():
    data = load_dataset("linear_gaussian", num_train=500)
    torch.manual_seed(0)
    model = PPCA(10, 3).init_from_data(data.train)
    result = fit(model, data, steps=300, lr=0.02, device="auto", progress=False)
    assert result.device.type == "cuda" and model.W.is_cuda
    test = data.test.cuda()
    exact = model.log_prob(test)
    estimate = log_likelihood(model, test, num_samples=1000)
    assert exact.is_cuda and float((exact - estimate).mean().abs()) < 0.1


def test_cpu_data_on_a_cuda_model_is_refused():
    model = PPCA(4, 2).cuda()
    with pytest.raises(ValueError, match="is on cpu but the model is on cuda"):
        model.log_prob(torch.zeros(3, 4))


@pytest.mark.parametrize("estimator", ["vimco", "tracegraph+nvil", "rws", "tracegraph+decaying"])
def test_sbn_estimators_train_on_cuda(estimator):
    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    from ppgen import SigmoidBeliefNet

    model = SigmoidBeliefNet(64, [6])
    result = fit(
        model,
        data,
        estimator=estimator,
        num_particles=5 if "+" not in estimator else 1,
        steps=50,
        lr=0.01,
        device="cuda",
        progress=False,
    )
    assert result.device.type == "cuda"
    assert model.log_prob(data.test.cuda()).is_cuda


def test_dreg_and_compare_on_cuda():
    from ppgen import SigmoidBeliefNet, compare

    data = load_dataset("linear_gaussian", num_train=300)
    torch.manual_seed(0)
    model = PPCA(10, 3).init_from_data(data.train)
    fit(model, data, estimator="dreg", num_particles=5, steps=30, device="cuda", progress=False)
    assert model.W.is_cuda
    binary = load_dataset("digits", binarize="threshold")
    table = compare(
        SigmoidBeliefNet(64, [4]),
        binary,
        ["trace", "vimco"],
        steps=20,
        device="cuda",
        grad_repeats=3,
        progress=False,
    )
    assert (table["test_log_lik_method"] == "exact").all()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"guide": "iaf", "prior": "flow"},
        {"encoder": "conv", "decoder": "conv", "image_shape": (8, 8)},
        {"guide": "full", "num_classes": 10},
    ],
    ids=["mlp", "iaf-flow-prior", "conv", "full-conditional"],
)
def test_vae_runs_unchanged_on_cuda(options):
    """The same VAE code on CUDA with device="cuda": training with IWAE, the k-sample
    log-likelihood, active units, reconstructions and samples all stay on the GPU."""
    from ppgen.evaluation import active_units, log_likelihood
    from ppgen.models import VAE

    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    model = VAE(64, 4, [32], **options).init_from_data(data.train)
    result = fit(
        model, data, estimator="iwae", num_particles=5, steps=50, device="cuda", progress=False
    )
    assert result.device.type == "cuda" and next(model.parameters()).is_cuda
    test = data.test.cuda()
    kwargs = {"y": data.test_labels.cuda()} if model.conditional else {}
    ll = log_likelihood(model, test, num_samples=200, **kwargs)
    assert ll.is_cuda and torch.isfinite(ll).all()
    assert 0 <= active_units(model, test, **kwargs) <= 4
    assert model.sample(3, **({"y": torch.arange(3).cuda()} if kwargs else {})).is_cuda


@pytest.mark.parametrize("flow", ["realnvp", "maf", "iaf", "nsf", "nsf-ar"])
def test_flows_train_and_sample_on_cuda(flow):
    from ppgen.models import FlowDensity

    data = load_dataset("moons")
    torch.manual_seed(0)
    model = FlowDensity(2, flow, num_layers=2).init_from_data(data.train)
    fit(model, data, steps=30, device="auto", progress=False)
    test = data.test.cuda()
    assert model.log_prob(test).is_cuda and model.sample(5).is_cuda


@pytest.mark.parametrize("loss", ["mmd", "gan", "wgan-gp"])
def test_generator_losses_train_and_score_on_cuda(loss):
    """Generator, discriminator, kernels and the sample scores all stay on the GPU."""
    from ppgen import Generator
    from ppgen.evaluation import kde_log_likelihood, mmd_test, mode_coverage

    data = load_dataset("ring8")
    torch.manual_seed(0)
    generator = Generator(2, latent_dim=2, hidden_dims=(64, 64))
    result = fit(generator, data, loss=loss, steps=200, batch_size=256, progress=False)
    assert result.device.type == "cuda" and next(generator.parameters()).is_cuda
    samples = generator.sample(500)
    assert samples.is_cuda
    test = data.test[:500].cuda()
    assert 0 < mmd_test(samples, test, num_permutations=50).p_value <= 1
    assert kde_log_likelihood(samples, test, bandwidth=0.1).is_cuda
    assert mode_coverage(samples, data.meta["centers"], data.meta["std"])["num_modes"] == 8


def test_info_vae_composed_loss_on_cuda():
    from ppgen import VAE
    from ppgen.inference.losses import MMDLoss, elbo

    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    vae = VAE(64, latent_dim=4, hidden_dims=(32,))
    loss = elbo("trace") + 10 * MMDLoss(site="z", target="prior")
    result = fit(vae, data, loss=loss, steps=50, progress=False)
    assert result.device.type == "cuda" and "loss/10*mmd_prior" in result.history


def test_bayesian_ppca_posterior_analysis_on_cuda():
    """fit, to_inference_data, PSIS and LOO with the model and data on the GPU."""
    from ppgen.analysis import information_criteria, psis_diagnostics, to_inference_data
    from ppgen.models import BayesianPPCA

    data = load_dataset("linear_gaussian", num_train=300)
    torch.manual_seed(0)
    model = BayesianPPCA(10, 3).init_from_data(data.train)
    fit(model, data, steps=1000, batch_size=None, lr=0.02, device="auto", progress=False)
    assert model.W_loc.is_cuda
    idata = to_inference_data(model, data.train.cuda(), num_samples=400)
    assert float(idata.posterior["noise_std"].mean()) == pytest.approx(0.5, abs=0.05)
    assert information_criteria(idata).loc["loo", "max_pareto_k"] < 0.7
    assert psis_diagnostics(idata).global_khat is not None


@pytest.mark.parametrize(
    "model_name, estimator, particles",
    [
        ("vae", "trace", 1),
        ("vae", "iwae", 50),
        ("sbn", "vimco", 5),
        ("flow", "trace", 1),
    ],
)
def test_compiled_step_follows_the_eager_step_on_cuda(model_name, estimator, particles):
    """The compiled path on the GPU: traced with CUDA random draws, same trajectory as eager."""
    from ppgen import VAE, FlowDensity, SigmoidBeliefNet

    data = load_dataset(
        "digits",
        binarize="threshold" if model_name != "flow" else None,
        dequantize=model_name == "flow",
    )
    results = []
    for compile in (False, True):
        torch.manual_seed(0)
        model = {
            "vae": lambda: VAE(64, latent_dim=10, hidden_dims=(200, 200)),
            "sbn": lambda: SigmoidBeliefNet(64, [200]),
            "flow": lambda: FlowDensity(64, num_layers=2, hidden_dims=(64,), preprocess="logit"),
        }[model_name]()
        results.append(
            fit(
                model,
                data.train,
                estimator=estimator,
                num_particles=particles,
                steps=12,
                batch_size=128,
                log_every=1,
                progress=False,
                device="cuda",
                compile=compile,
            )
        )
    eager, compiled = results
    assert compiled.compiled and compiled.device.type == "cuda"
    torch.testing.assert_close(
        torch.tensor(compiled.history["loss"].to_numpy()),
        torch.tensor(eager.history["loss"].to_numpy()),
        rtol=1e-4,
        atol=0.0,
    )


def test_chunked_log_likelihood_on_cuda_matches_the_exact_value():
    data = load_dataset("linear_gaussian", num_train=500)
    torch.manual_seed(0)
    model = PPCA(10, 3).init_from_data(data.train)
    fit(model, data, steps=300, lr=0.02, device="cuda", progress=False)
    test = data.test.cuda()
    chunked = log_likelihood(model, test, num_samples=1000, chunk_size=100, batch_size=64)
    assert chunked.is_cuda and chunked.shape == (len(test),)
    assert float((model.log_prob(test) - chunked).mean().abs()) < 0.1


def test_a_users_pair_with_tuple_data_and_a_global_latent_trains_on_cuda():
    """Issue 14 on the GPU: a plain pair (tuple data, a global latent, an AutoNormal guide,
    minibatches scaled N/B) under three estimators; the weights' signs are found."""
    import pyro
    import pyro.distributions as dist
    from pyro.infer.autoguide import AutoNormal

    def model(x, y):
        w = pyro.sample("w", dist.Normal(x.new_zeros(3), 1.0).to_event(1))
        with pyro.plate("obs_plate", x.shape[0]):
            pyro.sample("y", dist.Bernoulli(logits=(x * w).sum(-1)), obs=y)

    torch.manual_seed(0)
    x = torch.randn(400, 3)
    y = torch.bernoulli(torch.sigmoid(x @ torch.tensor([2.0, -2.0, 1.0])))
    for estimator in ("trace", "iwae", "vimco"):
        guide = AutoNormal(model)
        result = fit(
            (model, guide), (x, y), estimator=estimator, num_particles=3, batch_size=50,
            steps=400, lr=0.05, device="cuda", progress=False,
        )  # fmt: skip
        assert result.device.type == "cuda" and guide.locs.w.is_cuda
        assert torch.equal(guide.locs.w.detach().sign().cpu(), torch.tensor([1.0, -1.0, 1.0]))


def test_per_datapoint_and_joint_log_likelihoods_on_cuda():
    import pyro
    import pyro.distributions as dist

    from ppgen.evaluation import joint_log_likelihood

    def model(x):
        with pyro.plate("batch", x.shape[0]):
            z = pyro.sample("z", dist.Normal(x.new_zeros(()), 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        with pyro.plate("batch", x.shape[0]):
            pyro.sample("z", dist.Normal(x / 2, 0.5**0.5))

    x = torch.randn(50, device="cuda")
    exact = dist.Normal(0.0, 2.0**0.5).log_prob(x)
    per_point = log_likelihood((model, guide), x, num_samples=10)
    assert per_point.is_cuda and torch.allclose(per_point, exact, atol=1e-4)
    joint = joint_log_likelihood((model, guide), x, num_samples=10)
    assert float(joint) == pytest.approx(float(exact.sum()), abs=1e-3)


@pytest.mark.gpu
def test_a_killed_cuda_run_resumes_to_the_uninterrupted_run(tmp_path, monkeypatch, kill_at_steps):
    """Issue 15 on CUDA: the checkpoint holds the CUDA generators too, so a run killed at step 23
    and resumed equals one that never stopped, bit for bit."""
    from ppgen import VAE

    data = load_dataset("digits", binarize="dynamic")
    settings = dict(steps=40, batch_size=64, lr=0.01, log_every=2, checkpoint_every=4, seed=1)

    def new_model():
        torch.manual_seed(1)
        return VAE(64, 2, hidden_dims=[16])

    expected = new_model()
    fit(expected, data, device="cuda", progress=False, **settings)
    killed = kill_at_steps({23})
    path = tmp_path / "run.ckpt"
    with pytest.raises(killed):
        fit(new_model(), data, device="cuda", checkpoint=path, progress=False, **settings)
    monkeypatch.undo()
    resumed = new_model()
    fit(resumed, data, device="cuda", checkpoint=path, progress=False, **settings)
    for key, value in expected.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_streamed_training_on_cuda_with_pinned_memory_equals_the_tensor_run(tmp_path):
    """Issue 16: a DataLoader with pinned memory and workers feeds CUDA; the result equals
    training on the same rows as a CUDA tensor (eager on both sides)."""
    import numpy as np
    from torch.utils.data import DataLoader

    from ppgen.data import NpyRows

    data = load_dataset("linear_gaussian", num_train=600)
    np.save(tmp_path / "rows.npy", data.train.numpy())
    options = dict(steps=40, batch_size=64, lr=0.02, device="cuda", progress=False, compile=False)
    torch.manual_seed(0)
    streamed = PPCA(10, 3).init_from_data(data.train)
    torch.manual_seed(0)
    in_memory = PPCA(10, 3).init_from_data(data.train)
    loader = DataLoader(
        NpyRows(tmp_path / "rows.npy"), batch_size=64, pin_memory=True, num_workers=2
    )
    fit(streamed, loader, **options)
    fit(in_memory, data.train, **options)
    for name, value in in_memory.state_dict().items():
        torch.testing.assert_close(streamed.state_dict()[name], value, rtol=0, atol=0)


@pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.device_count() < 2, reason="needs 2 GPUs"
)
def test_two_gpus_on_nccl_follow_one_gpu_with_twice_the_batch():
    """Issue 16: fit(devices=2) on 2 GPUs (NCCL) with the global-batch noise follows one GPU
    with twice the batch (tolerance as on CPU, 1e-5)."""
    data = load_dataset("digits")
    options = dict(steps=50, lr=0.01, compile=False, progress=False, device="cuda")
    torch.manual_seed(0)
    one = PPCA(64, 4).init_from_data(data.train)
    torch.manual_seed(0)
    two = PPCA(64, 4).init_from_data(data.train)
    fit(one, data.train, batch_size=64, distributed_noise="global_batch", **options)
    fit(two, data.train, batch_size=32, devices=2, distributed_noise="global_batch", **options)
    for name, value in one.state_dict().items():
        torch.testing.assert_close(two.state_dict()[name], value, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "estimator", ["rloo", "arm", "disarm", "rebar", "relax", "concrete", "straight_through", "tvo",
                  "renyi"],
)  # fmt: skip
def test_discrete_workbench_trains_on_cuda_and_keeps_its_state_there(estimator):
    """Issue 27's estimators on CUDA: the SBN's held-out log-likelihood rises by 3 nats in 150
    steps, and an estimator's own parameters (REBAR's temperature, RELAX's networks) live on
    the GPU."""
    from ppgen import SigmoidBeliefNet
    from ppgen.inference import get_estimator

    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    model = SigmoidBeliefNet(64, [6])
    before = float(model.log_prob(data.val).mean())
    particles = {"rloo": 3, "tvo": 3, "renyi": 3}.get(estimator)
    objective = get_estimator(estimator, num_particles=particles)
    fit(model, data, estimator=objective, steps=150, lr=0.01, device="cuda", progress=False)
    assert next(model.parameters()).is_cuda
    assert all(p.is_cuda for p in getattr(objective, "parameters", lambda: iter(()))())
    assert float(model.log_prob(data.val.cuda()).mean()) > before + 3
