"""Programs and per-rank checks for tests/training/test_distributed.py.

They run in processes started by PyTorch's launcher, which receive them by pickle: so they live in
a module the test puts on ``sys.path`` and imports by this name, not in the test module itself.
Each pair is written as a Pyro user writes one: module-level functions, ``pyro.param``, plates
with names of the user's choosing, an autoguide.
"""

from __future__ import annotations

import os

import pyro
import pyro.distributions as dist
import torch
from pyro.infer.autoguide import AutoNormal

import ppgen
from ppgen.models import PPCA, VAE, FlowDensity, Generator
from ppgen.training.distributed import current_ranks


# ----- plain Pyro pairs -----------------------------------------------------------------------
def sbn_model(x):
    """A one-layer sigmoid belief net: binary local codes, weights as pyro.param."""
    weight = pyro.param("weight", torch.full((3, x.shape[-1]), 0.1))
    with pyro.plate("obs", len(x)):
        z = pyro.sample("z", dist.Bernoulli(torch.full((3,), 0.5)).to_event(1))
        pyro.sample("x", dist.Bernoulli(logits=z @ weight - 0.2).to_event(1), obs=x)


def sbn_guide(x):
    encoder = pyro.param("encoder", torch.zeros(x.shape[-1], 3))
    with pyro.plate("obs", len(x)):
        pyro.sample("z", dist.Bernoulli(logits=x @ encoder).to_event(1))


def location_model(ids, x):
    """A global location under a plate named "points"."""
    loc = pyro.sample("loc", dist.Normal(0.0, 10.0))
    with pyro.plate("points", len(x)):
        pyro.sample("x", dist.Normal(loc, 1.0), obs=x)


def location_guide(ids, x):
    mean = pyro.param("mean", torch.tensor(0.0))
    pyro.sample(
        "loc", dist.Normal(mean, pyro.param("sd", torch.tensor(1.0), dist.constraints.positive))
    )


def subsampled_model(x):
    """Pyro's idiom for per-row guides: the program subsamples its own plate."""
    with pyro.plate("data", len(x), subsample_size=8) as idx:
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("x", dist.Normal(z, 0.5), obs=x[idx])


def binary_rows(n=64, d=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, d, generator=generator) < 0.3).float()


# ----- what each rank runs --------------------------------------------------------------------
def _params(model) -> dict:
    """Every trained tensor: a module's state and the pair's pyro.param values."""
    if isinstance(model, torch.nn.Module):
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    store = pyro.get_param_store()
    return {k: store.get_param(k).detach().clone() for k in store.keys()}


def _fit_params(model, data, **options) -> dict:
    pyro.clear_param_store()
    result = ppgen.fit(model, data, progress=False, **options)
    params = _params(model if isinstance(model, torch.nn.Module) else None)
    if isinstance(model, tuple) and isinstance(model[1], torch.nn.Module):
        params.update({f"guide.{k}": v.detach().clone() for k, v in model[1].state_dict().items()})
    return {"params": params, "loss": result.history["loss"].tolist()}


def every_estimator() -> dict:
    """Short runs with every kind of trainable tensor, on this rank: name -> params, loss."""
    torch.manual_seed(0)
    x = binary_rows()
    digits = ppgen.load_dataset("digits")
    runs = {}
    for estimator in ("trace", "tracegraph", "tracegraph+nvil", "vimco", "rws"):
        options = {"num_particles": 3} if estimator in ("vimco", "rws") else {}
        runs[estimator] = _fit_params(
            (sbn_model, sbn_guide),
            x,
            estimator=estimator,
            steps=6,
            batch_size=8,
            lr=0.05,
            **options,
        )
    located = (torch.arange(64.0), torch.randn(64) + 3.0)
    runs["global-latent"] = _fit_params(
        (location_model, location_guide), located, steps=6, batch_size=8, lr=0.05
    )
    # 65 rows, 2 x 16 per step: every third global batch has 1 row, and rank 1 none.
    short = (torch.arange(65.0), torch.randn(65) + 3.0)
    runs["short-last-batch"] = _fit_params(
        (location_model, location_guide), short, steps=6, batch_size=16, lr=0.05
    )
    gan = Generator(64, 4, hidden_dims=(16,))
    runs["gan"] = _fit_params(gan, digits.train[:128], loss="gan", steps=4, batch_size=16, lr=1e-3)
    guide = AutoNormal(subsampled_model)
    runs["subsampled-autonormal"] = _fit_params(
        (subsampled_model, guide), torch.randn(40), steps=6, lr=0.05, batch_size=None
    )
    return runs


def one_epoch_rows() -> list:
    """The row ids the model saw in training steps over one epoch (3 steps of 2 x 16 of 96)."""
    from ppgen.training.step import Stepper

    seen, real_step = [], Stepper.model_step

    def recording_step(self, args, kwargs, normalizer):
        seen.extend(args[0].tolist())  # the ids of this rank's rows
        return real_step(self, args, kwargs, normalizer)

    Stepper.model_step = recording_step
    ids = torch.arange(96.0)
    ppgen.fit(
        (location_model, location_guide),
        (ids, torch.randn(96)),
        steps=3,
        batch_size=16,
        progress=False,
        lr=0.01,
    )
    Stepper.model_step = real_step
    return seen


def equivalence_runs(batch_size: int) -> dict:
    """A VAE and a flow trained 50 steps with the global-batch noise: their final tensors."""
    torch.manual_seed(0)
    binary = ppgen.load_dataset("digits", binarize="threshold")
    moons = ppgen.load_dataset("moons")
    options = {
        "steps": 50,
        "batch_size": batch_size,
        "lr": 1e-2,
        "compile": False,
        "distributed_noise": "global_batch",
    }
    vae = VAE(64, 2, hidden_dims=(32,))
    flow = FlowDensity(2, num_layers=2)
    return {
        "vae": _fit_params(vae, binary.train[:256], **options),
        "flow": _fit_params(flow, moons.train[:256], **options),
    }


class DieAt:
    """A callback that ends this process abruptly (as SIGKILL would) at ``step`` on ``rank``."""

    def __init__(self, step: int, rank: int):
        self.step, self.rank = step, rank

    def __call__(self, step, model):
        if step == self.step and current_ranks().rank == self.rank:
            os._exit(17)


def checkpointed_ppca(path: str, die_at: int | None = None) -> dict:
    """PPCA on digits, 2 x 32 rows per step, checkpoints every 10 steps; killed at ``die_at``."""
    digits = ppgen.load_dataset("digits")
    torch.manual_seed(0)
    model = PPCA(64, 4).init_from_data(digits.train)
    callback = None if die_at is None else DieAt(die_at, rank=1)
    result = ppgen.fit(
        model,
        digits,
        steps=60,
        batch_size=32,
        lr=0.01,
        log_every=10,
        checkpoint=path,
        checkpoint_every=10,
        progress=False,
        callback=callback,
    )
    return {"params": _params(model), "history": result.history.drop(columns="wall_time")}


def sharded_evaluation() -> dict:
    """log_likelihood and elbo of the same data, sharded over this group's ranks: a flow (exact)
    and PPCA with its guide set to the exact posterior (every log weight equals log p(x))."""
    from pyro.nn import PyroParam

    from ppgen.evaluation import elbo, log_likelihood

    torch.manual_seed(0)
    moons = ppgen.load_dataset("moons")
    flow = FlowDensity(2, num_layers=2)
    digits = ppgen.load_dataset("digits")
    ppca = PPCA(64, 3).init_from_data(digits.train)
    with torch.no_grad():
        posterior = ppca.posterior(digits.test[:2])  # loc = (x - b) A, covariance C
        A = ppca.W / ppca.noise_variance()[:, None] @ posterior.covariance_matrix[0]  # (D, K)
        ppca.guide_weight.copy_(A.T)
        ppca.guide_bias.copy_(-ppca.b @ A)
        scale_tril = posterior.scale_tril[0].clone()
    ppca.guide_scale_tril = PyroParam(scale_tril, dist.constraints.lower_cholesky)
    from ppgen.analysis import to_inference_data

    analysed = to_inference_data(ppca, digits.test[:51], num_samples=20)
    return {
        "inference_data": {
            "log_lik": analysed.log_likelihood[ppca.observed_site].values,
            "observed": analysed.observed_data[ppca.observed_site].values,
            "z_shape": analysed.posterior["z"].shape,
            "plate": analysed.log_likelihood[ppca.observed_site].coords[ppca.data_plate].values,
        },
        "flow": log_likelihood(flow, moons.test[:101], num_samples=1),
        "ppca_elbo": elbo(ppca, digits.test[:51], num_samples=3),
        "ppca_exact": ppca.log_prob(digits.test[:51]).detach(),
    }


def streamed_location(path: str, batch_size: int) -> dict:
    """A plain pair trained from ``DataLoader(NpyRows(path))``: its parameters."""
    from torch.utils.data import DataLoader

    from ppgen.data import NpyRows

    def model(x):  # defined here: a new pair (its own parameters) on every call
        loc = pyro.param("loc", torch.zeros(x.shape[1]))
        with pyro.plate("rows", x.shape[0]):
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)

    def guide(x):
        pass

    loader = DataLoader(NpyRows(path), batch_size=batch_size)
    result = ppgen.fit((model, guide), loader, steps=12, lr=0.05, progress=False, compile=False)
    return {k: v.clone() for k, v in result.params.items()}


def on_two_ranks(npy_path: str, checkpoint_path: str) -> dict:
    """Every check in one launch (process start-up costs seconds), and the uninterrupted
    checkpointed run that a killed run must match."""
    return {
        "uninterrupted": checkpointed_ppca(checkpoint_path),
        "streamed": streamed_location(npy_path, 16),
        "estimators": every_estimator(),
        "rows": one_epoch_rows(),
        "evaluation": sharded_evaluation(),
        "equivalence": equivalence_runs(32),
    }
