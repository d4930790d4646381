"""A zoo of users' Pyro model/guide pairs, written as Pyro users write them (issue 14).

Each entry builds ``(model, guide, data, options)`` afresh: ``data`` is what ``fit`` takes (a
tensor of any shape, a tuple or dict of tensors, or ``None``) and ``options`` other ``fit``
arguments (``model_kwargs``, ``batch_size``...). The structures follow Pyro's
``tests/infer/test_valid_models.py`` (with observations added: ppgen trains on data) and the last
entries are Pyro's example programs with their model and guide code unchanged
(``examples/vae/vae.py``, ``examples/sparse_gamma_def.py``, ``examples/dmm.py``,
``examples/lda.py``; Apache-2.0, Copyright (c) 2017-2019 Uber Technologies, Inc.), at small sizes.

Used by ``tests/inference/test_zoo.py`` and ``benchmarks/zoo_matrix.py``.
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass, field

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch
import torch.nn as nn
from pyro.distributions import Gamma, Poisson, TransformedDistribution
from pyro.infer import config_enumerate
from pyro.infer.autoguide import (
    AutoDelta,
    AutoDiagonalNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from pyro.nn import PyroModule, PyroSample
from torch.distributions import constraints
from torch.nn.functional import softplus

N = 12  # rows of every generated data set


@dataclass
class ZooPair:
    name: str
    source: str
    build: object  # () -> (model, guide, data, options)
    tags: tuple = field(default_factory=tuple)


ZOO: list[ZooPair] = []


def entry(name, source, *tags):
    def register(build):
        ZOO.append(ZooPair(name, source, build, tags))
        return build

    return register


def rows(*shape, seed=0):
    return torch.randn(N, *shape, generator=torch.Generator().manual_seed(seed))


VALID = "pyro tests/infer/test_valid_models.py::"

# ----- structures of Pyro's valid models --------------------------------------------------------


@entry("nonempty_model_empty_guide", VALID + "test_nonempty_model_empty_guide_ok")
def _():
    def model(x):
        loc = pyro.param("loc", torch.zeros(2))
        with pyro.plate("data", len(x)):
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)

    return model, lambda x: None, rows(2), {}


@entry("global_latent", "conjugate normal mean")
def _():
    def model(x):
        mu = pyro.sample("mu", dist.Normal(0.0, 3.0))
        with pyro.plate("points", len(x)):
            pyro.sample("obs", dist.Normal(mu, 1.0), obs=x)

    def guide(x):
        loc = pyro.param("mu_loc", torch.tensor(0.0))
        scale = pyro.param("mu_scale", torch.tensor(1.0), constraint=constraints.positive)
        pyro.sample("mu", dist.Normal(loc, scale))

    return model, guide, rows(), {}


@entry("local_latent_any_plate_name", VALID + "test_plate_ok")
def _():
    def model(x):
        with pyro.plate("batch", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("batch", len(x)):
            pyro.sample("z", dist.Normal(w * x, 0.8))

    return model, guide, rows(), {"batch_size": 5}


@entry("nested_plates", VALID + "test_nested_plate_plate_ok")
def _():
    def model(x):
        with pyro.plate("rows", x.shape[0], dim=-2), pyro.plate("cols", x.shape[1], dim=-1):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("rows", x.shape[0], dim=-2), pyro.plate("cols", x.shape[1], dim=-1):
            pyro.sample("z", dist.Normal(w * x, 0.8))

    return model, guide, rows(3), {"batch_size": 5}


@entry("iplate_inside_plate", VALID + "test_plate_iplate_ok")
def _():
    def model(x):
        with pyro.plate("rows", x.shape[0]):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            for d in pyro.plate("features", x.shape[1]):
                pyro.sample(f"obs_{d}", dist.Normal(z, 1.0), obs=x[:, d])

    def guide(x):
        w = pyro.param("w", torch.tensor(0.3))
        with pyro.plate("rows", x.shape[0]):
            pyro.sample("z", dist.Normal(w * x.sum(-1), 0.7))

    return model, guide, rows(3), {"batch_size": 5}


@entry("sequential_data_plate", VALID + "test_iplate_ok")
def _():
    def model(x):
        loc = pyro.param("loc", torch.tensor(0.0))
        for i in pyro.plate("data", len(x)):
            z = pyro.sample(f"z_{i}", dist.Normal(loc, 1.0))
            pyro.sample(f"obs_{i}", dist.Normal(z, 1.0), obs=x[i])

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        for i in pyro.plate("data", len(x)):
            pyro.sample(f"z_{i}", dist.Normal(w * x[i], 0.8))

    return model, guide, rows(), {}


@entry("plate_subsample_param", VALID + "test_plate_subsample_param_ok")
def _():
    def model(x):
        with pyro.plate("data", len(x), subsample_size=4) as idx:
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x[idx])

    def guide(x):
        with pyro.plate("data", len(x), subsample_size=4):
            loc = pyro.param("loc", torch.zeros(len(x)), event_dim=0)
            pyro.sample("z", dist.Normal(loc, 0.7))

    return model, guide, rows(), {}


@entry("plate_subsample_primitive", VALID + "test_plate_subsample_primitive_ok")
def _():
    def model(x):
        with pyro.plate("data", len(x), subsample_size=4):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=pyro.subsample(x, event_dim=0))

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("data", len(x), subsample_size=4):
            pyro.sample("z", dist.Normal(w * pyro.subsample(x, event_dim=0), 0.7))

    return model, guide, rows(), {}


@entry("plate_no_size", VALID + "test_plate_no_size_ok")
def _():
    def model(x):
        p = pyro.param("p", torch.tensor(0.5), constraint=constraints.unit_interval)
        with pyro.plate("data"):
            pyro.sample("obs", dist.Bernoulli(p).expand_by([len(x)]), obs=x)

    x = (rows() > 0).float()
    return model, lambda x: None, x, {}


@entry("plate_stack", VALID + "test_plate_stack_ok")
def _():
    def model(x):
        with pyro.plate_stack("grid", x.shape):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate_stack("grid", x.shape):
            pyro.sample("z", dist.Normal(w * x, 0.8))

    return model, guide, rows(2), {}


@entry("three_plates_different_depths", VALID + "test_three_indep_plate_at_different_depths_ok")
def _():
    def model(x):
        a = pyro.sample("a", dist.Normal(0.0, 1.0))
        with pyro.plate("rows", x.shape[0], dim=-2):
            b = pyro.sample("b", dist.Normal(a, 1.0))
            with pyro.plate("cols", x.shape[1], dim=-1):
                pyro.sample("obs", dist.Normal(b, 1.0), obs=x)

    def guide(x):
        loc = pyro.param("a_loc", torch.tensor(0.0))
        pyro.sample("a", dist.Normal(loc, 0.5))
        with pyro.plate("rows", x.shape[0], dim=-2):
            pyro.sample("b", dist.Normal(x.mean(-1, keepdim=True), 0.5))

    return model, guide, rows(3), {}


@entry("plate_reuse", VALID + "test_plate_reuse_ok")
def _():
    def model(x):
        data_plate = pyro.plate("data", len(x), dim=-1)
        with data_plate:
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
        with data_plate:
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("data", len(x), dim=-1):
            pyro.sample("z", dist.Normal(w * x, 0.8))

    return model, guide, rows(), {"batch_size": 5}


@entry("discrete_local_sampled", VALID + "test_not_has_rsample_ok", "discrete")
def _():
    def model(x):
        locs = pyro.param("locs", torch.tensor([-1.0, 1.0]))
        with pyro.plate("data", len(x)):
            c = pyro.sample("c", dist.Bernoulli(0.5))
            pyro.sample("obs", dist.Normal(locs[c.long()], 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(1.0))
        with pyro.plate("data", len(x)):
            pyro.sample("c", dist.Bernoulli(logits=w * x))

    return model, guide, rows(), {"batch_size": 5}


@entry("enumerated_mixture", VALID + "test_enum_discrete_single_ok", "discrete")
def _():
    def model(x):
        locs = pyro.param("locs", torch.tensor([-1.0, 0.0, 1.0]))
        with pyro.plate("data", len(x)):
            c = pyro.sample("c", dist.Categorical(torch.ones(3) / 3))
            pyro.sample("obs", dist.Normal(locs[c], 1.0), obs=x)

    @config_enumerate
    def guide(x):
        w = pyro.param("w", torch.zeros(3))
        with pyro.plate("data", len(x)):
            pyro.sample("c", dist.Categorical(logits=w * x.unsqueeze(-1)))

    return model, guide, rows(), {}


@entry("enumerated_and_sampled", VALID + "test_enum_discrete_non_enumerated_plate_ok", "discrete")
def _():
    def model(x):
        locs = pyro.param("locs", torch.tensor([-1.0, 1.0]))
        with pyro.plate("data", len(x)):
            c = pyro.sample("c", dist.Bernoulli(0.5))
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(locs[c.long()] + z, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("data", len(x)):
            pyro.sample("c", dist.Bernoulli(logits=w * x), infer={"enumerate": "parallel"})
            pyro.sample("z", dist.Normal(0.3 * x, 0.8))

    return model, guide, rows(), {}


@entry("normal_without_rsample", VALID + "test_set_has_rsample_ok")
def _():
    def model(x):
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(w * x, 0.8).has_rsample_(False))

    return model, guide, rows(), {}


@entry("factor_in_model", VALID + "test_factor_in_model_ok")
def _():
    def model(x):
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.factor("penalty", -0.1 * z**2)
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(w * x, 0.8))

    return model, guide, rows(), {}


@entry("mask_argument", "poutine.mask with a per-row boolean mask")
def _():
    def model(x, mask):
        with pyro.plate("data", len(x)), poutine.mask(mask=mask):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x, mask):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("data", len(x)), poutine.mask(mask=mask):
            pyro.sample("z", dist.Normal(w * x, 0.8))

    return model, guide, (rows(), torch.arange(N) % 3 > 0), {"batch_size": 5}


@entry("markov_chain_sequences", "pyro.markov over time, (N, T, D) sequences")
def _():
    def model(x):
        rho = pyro.param("rho", torch.tensor(0.5))
        with pyro.plate("seqs", x.shape[0]):
            h = x.new_zeros(x.shape[0])
            for t in pyro.markov(range(x.shape[1])):
                h = pyro.sample(f"h_{t}", dist.Normal(rho * h, 1.0))
                mean = h.unsqueeze(-1).expand(h.shape + (x.shape[2],))
                pyro.sample(f"x_{t}", dist.Normal(mean, 0.5).to_event(1), obs=x[:, t])

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("seqs", x.shape[0]):
            for t in pyro.markov(range(x.shape[1])):
                pyro.sample(f"h_{t}", dist.Normal(w * x[:, t].mean(-1), 0.6))

    return model, guide, rows(5, 2), {"batch_size": 5}


@entry("autonormal_local", "AutoNormal on local latents")
def _():
    def model(x):
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
            pyro.sample("obs", dist.Normal(z, 1.0).to_event(1), obs=x)

    return model, AutoNormal(model), rows(2), {}


@entry("autodelta_global", "AutoDelta (MAP) on global latents")
def _():
    def model(x):
        mu = pyro.sample("mu", dist.Normal(torch.zeros(2), 3.0).to_event(1))
        with pyro.plate("data", len(x)):
            pyro.sample("obs", dist.Normal(mu, 1.0).to_event(1), obs=x)

    return model, AutoDelta(model), rows(2), {"batch_size": 5}


@entry("autodiagonalnormal_global", "AutoDiagonalNormal on constrained global latents")
def _():
    def model(x):
        mu = pyro.sample("mu", dist.Normal(0.0, 3.0))
        sigma = pyro.sample("sigma", dist.LogNormal(0.0, 1.0))
        with pyro.plate("data", len(x)):
            pyro.sample("obs", dist.Normal(mu, sigma), obs=x)

    return model, AutoDiagonalNormal(model), rows(), {"batch_size": 5}


@entry("bayesian_linear_regression", "AutoMultivariateNormal, tuple data (x, y)")
def _():
    def model(x, y):
        w = pyro.sample("w", dist.Normal(torch.zeros(3), 1.0).to_event(1))
        b = pyro.sample("b", dist.Normal(0.0, 1.0))
        with pyro.plate("data", len(x)):
            pyro.sample("y", dist.Normal((x * w).sum(-1) + b, 0.5), obs=y)

    x = rows(3)
    return model, AutoMultivariateNormal(model), (x, x.sum(-1)), {}


@entry("autonormal_global_and_local", "AutoNormal over global and local latents")
def _():
    def model(x):
        mu = pyro.sample("mu", dist.Normal(0.0, 3.0))
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(mu, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    return model, AutoNormal(model), rows(), {}


@entry("dict_keyword_data", "data as a dict of keyword arguments")
def _():
    def model(x=None, y=None):
        w = pyro.param("w", torch.zeros(2))
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("y", dist.Normal((x * w).sum(-1) + z, 1.0), obs=y)

    def guide(x=None, y=None):
        v = pyro.param("v", torch.tensor(0.2))
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(v * y, 0.8))

    return model, guide, {"x": rows(2), "y": rows(seed=1)}, {"batch_size": 5}


@entry("data_free_program", VALID + "test_nonempty_model_empty_guide_ok, no data")
def _():
    def model():
        mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
        with pyro.plate("obs_plate", 3):
            pyro.sample("obs", dist.Normal(mu, 1.0), obs=torch.tensor([0.5, 1.0, 1.5]))

    def guide():
        loc = pyro.param("loc", torch.tensor(0.0))
        pyro.sample("mu", dist.Normal(loc, 0.5))

    return model, guide, None, {}


@entry("images_nchw", "(N, C, H, W) images, per-image latent")
def _():
    def model(x):
        scale = pyro.param("scale", torch.tensor(1.0), constraint=constraints.positive)
        with pyro.plate("images", x.shape[0]):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            mean = z.reshape(z.shape + (1, 1, 1)).expand(z.shape + x.shape[1:])
            pyro.sample("pix", dist.Normal(mean, scale).to_event(3), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("images", x.shape[0]):
            pyro.sample("z", dist.Normal(w * x.mean((1, 2, 3)), 0.5))

    return model, guide, rows(1, 4, 4), {"batch_size": 5}


@entry("poisson_counts_gamma_rate", "integer counts, conjugate Gamma rate")
def _():
    def model(x):
        rate = pyro.sample("rate", dist.Gamma(2.0, 1.0))
        with pyro.plate("data", len(x)):
            pyro.sample("obs", dist.Poisson(rate), obs=x)

    def guide(x):
        a = pyro.param("a", torch.tensor(2.0), constraint=constraints.positive)
        b = pyro.param("b", torch.tensor(1.0), constraint=constraints.positive)
        pyro.sample("rate", dist.Gamma(a, b))

    counts = torch.poisson(torch.full((N,), 3.0), generator=torch.Generator().manual_seed(0))
    return model, guide, counts, {}


@entry("unbatched_argument", "an unbatched keyword argument (model_kwargs)")
def _():
    def model(x, noise=1.0):
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z, noise), obs=x)

    def guide(x, noise=1.0):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(w * x / noise, 0.8))

    return model, guide, rows(), {"model_kwargs": {"noise": 0.5}, "batch_size": 5}


class BayesianRegression(PyroModule):
    def __init__(self):
        super().__init__()
        self.linear = PyroModule[nn.Linear](2, 1)
        self.linear.weight = PyroSample(dist.Normal(0.0, 1.0).expand([1, 2]).to_event(2))
        self.linear.bias = PyroSample(dist.Normal(0.0, 5.0).expand([1]).to_event(1))

    def forward(self, x, y=None):
        mean = self.linear(x).squeeze(-1)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("obs", dist.Normal(mean, 0.5), obs=y)


@entry("pyromodule_pyrosample", "PyroModule with PyroSample priors (Pyro's Bayesian regression)")
def _():
    model = BayesianRegression()
    x = rows(2)
    return model, AutoDiagonalNormal(model), (x, x.sum(-1)), {}


@entry("constrained_latent_handwritten", "LogNormal scale, hand-written guide")
def _():
    def model(x):
        sigma = pyro.sample("sigma", dist.LogNormal(0.0, 1.0))
        with pyro.plate("data", len(x)):
            pyro.sample("obs", dist.Normal(0.0, sigma), obs=x)

    def guide(x):
        loc = pyro.param("log_sigma_loc", torch.tensor(0.0))
        pyro.sample("sigma", dist.LogNormal(loc, 0.3))

    return model, guide, rows(), {"batch_size": 5}


@entry("amortized_vector_latent", "an amortized Gaussian encoder (pyro.module)")
def _():
    encoder = nn.Linear(4, 4)
    decoder = nn.Linear(2, 4)

    def model(x):
        pyro.module("decoder", decoder)
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
            pyro.sample("obs", dist.Normal(decoder(z), 1.0).to_event(1), obs=x)

    def guide(x):
        pyro.module("encoder", encoder)
        with pyro.plate("data", len(x)):
            out = encoder(x)
            pyro.sample("z", dist.Normal(out[..., :2], out[..., 2:].exp()).to_event(1))

    return model, guide, rows(4), {"batch_size": 5}


# ----- Pyro's example programs, model and guide code unchanged -----------------------------------
# examples/vae/vae.py


class Encoder(nn.Module):
    def __init__(self, z_dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden_dim)
        self.fc21 = nn.Linear(hidden_dim, z_dim)
        self.fc22 = nn.Linear(hidden_dim, z_dim)
        self.softplus = nn.Softplus()

    def forward(self, x):
        x = x.reshape(-1, 784)
        hidden = self.softplus(self.fc1(x))
        z_loc = self.fc21(hidden)
        z_scale = torch.exp(self.fc22(hidden))
        return z_loc, z_scale


class Decoder(nn.Module):
    def __init__(self, z_dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(z_dim, hidden_dim)
        self.fc21 = nn.Linear(hidden_dim, 784)
        self.softplus = nn.Softplus()

    def forward(self, z):
        hidden = self.softplus(self.fc1(z))
        loc_img = torch.sigmoid(self.fc21(hidden))
        return loc_img


class PyroExampleVAE(nn.Module):
    def __init__(self, z_dim=50, hidden_dim=400, use_cuda=False):
        super().__init__()
        self.encoder = Encoder(z_dim, hidden_dim)
        self.decoder = Decoder(z_dim, hidden_dim)
        if use_cuda:
            self.cuda()
        self.use_cuda = use_cuda
        self.z_dim = z_dim

    def model(self, x):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0]):
            z_loc = torch.zeros(x.shape[0], self.z_dim, dtype=x.dtype, device=x.device)
            z_scale = torch.ones(x.shape[0], self.z_dim, dtype=x.dtype, device=x.device)
            z = pyro.sample("latent", dist.Normal(z_loc, z_scale).to_event(1))
            loc_img = self.decoder.forward(z)
            pyro.sample(
                "obs",
                dist.Bernoulli(loc_img, validate_args=False).to_event(1),
                obs=x.reshape(-1, 784),
            )
            return loc_img

    def guide(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0]):
            z_loc, z_scale = self.encoder.forward(x)
            pyro.sample("latent", dist.Normal(z_loc, z_scale).to_event(1))


def binary_images(count=N, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(count, 1, 28, 28, generator=generator) > 0.7).float()


@entry("pyro_example_vae", "pyro examples/vae/vae.py (VAE.model, VAE.guide unchanged)", "example")
def _():
    vae = PyroExampleVAE(z_dim=4, hidden_dim=16)
    return vae.model, vae.guide, binary_images(), {"batch_size": 5}


# examples/sparse_gamma_def.py (model and guide unchanged; sizes set small after construction)


def rand_tensor(shape, mean, sigma):
    return mean * torch.ones(shape) + sigma * torch.randn(shape)


class SparseGammaDEF:
    def __init__(self):
        self.top_width = 100
        self.mid_width = 40
        self.bottom_width = 15
        self.image_size = 64 * 64
        self.alpha_z = torch.tensor(0.1)
        self.beta_z = torch.tensor(0.1)
        self.alpha_w = torch.tensor(0.1)
        self.beta_w = torch.tensor(0.3)
        self.alpha_init = 0.5
        self.mean_init = 0.0
        self.sigma_init = 0.1

    def model(self, x):
        x_size = x.size(0)
        with pyro.plate("w_top_plate", self.top_width * self.mid_width):
            w_top = pyro.sample("w_top", Gamma(self.alpha_w, self.beta_w))
        with pyro.plate("w_mid_plate", self.mid_width * self.bottom_width):
            w_mid = pyro.sample("w_mid", Gamma(self.alpha_w, self.beta_w))
        with pyro.plate("w_bottom_plate", self.bottom_width * self.image_size):
            w_bottom = pyro.sample("w_bottom", Gamma(self.alpha_w, self.beta_w))
        with pyro.plate("data", x_size):
            z_top = pyro.sample(
                "z_top",
                Gamma(self.alpha_z, self.beta_z).expand([self.top_width]).to_event(1),
            )
            w_top = (
                w_top.reshape(self.top_width, self.mid_width)
                if w_top.dim() == 1
                else w_top.reshape(-1, self.top_width, self.mid_width)
            )
            mean_mid = torch.matmul(z_top, w_top)
            z_mid = pyro.sample("z_mid", Gamma(self.alpha_z, self.beta_z / mean_mid).to_event(1))
            w_mid = (
                w_mid.reshape(self.mid_width, self.bottom_width)
                if w_mid.dim() == 1
                else w_mid.reshape(-1, self.mid_width, self.bottom_width)
            )
            mean_bottom = torch.matmul(z_mid, w_mid)
            z_bottom = pyro.sample(
                "z_bottom", Gamma(self.alpha_z, self.beta_z / mean_bottom).to_event(1)
            )
            w_bottom = (
                w_bottom.reshape(self.bottom_width, self.image_size)
                if w_bottom.dim() == 1
                else w_bottom.reshape(-1, self.bottom_width, self.image_size)
            )
            mean_obs = torch.matmul(z_bottom, w_bottom)
            pyro.sample("obs", Poisson(mean_obs).to_event(1), obs=x)

    def guide(self, x):
        x_size = x.size(0)

        def sample_zs(name, width):
            alpha_z_q = pyro.param(
                "alpha_z_q_%s" % name,
                lambda: rand_tensor((x_size, width), self.alpha_init, self.sigma_init),
            )
            mean_z_q = pyro.param(
                "mean_z_q_%s" % name,
                lambda: rand_tensor((x_size, width), self.mean_init, self.sigma_init),
            )
            alpha_z_q, mean_z_q = softplus(alpha_z_q), softplus(mean_z_q)
            pyro.sample("z_%s" % name, Gamma(alpha_z_q, alpha_z_q / mean_z_q).to_event(1))

        def sample_ws(name, width):
            alpha_w_q = pyro.param(
                "alpha_w_q_%s" % name,
                lambda: rand_tensor((width), self.alpha_init, self.sigma_init),
            )
            mean_w_q = pyro.param(
                "mean_w_q_%s" % name,
                lambda: rand_tensor((width), self.mean_init, self.sigma_init),
            )
            alpha_w_q, mean_w_q = softplus(alpha_w_q), softplus(mean_w_q)
            pyro.sample("w_%s" % name, Gamma(alpha_w_q, alpha_w_q / mean_w_q))

        with pyro.plate("w_top_plate", self.top_width * self.mid_width):
            sample_ws("top", self.top_width * self.mid_width)
        with pyro.plate("w_mid_plate", self.mid_width * self.bottom_width):
            sample_ws("mid", self.mid_width * self.bottom_width)
        with pyro.plate("w_bottom_plate", self.bottom_width * self.image_size):
            sample_ws("bottom", self.bottom_width * self.image_size)
        with pyro.plate("data", x_size):
            sample_zs("top", self.top_width)
            sample_zs("mid", self.mid_width)
            sample_zs("bottom", self.bottom_width)


@entry(
    "pyro_example_sparse_gamma_def",
    "pyro examples/sparse_gamma_def.py (model, guide unchanged; widths 4/3/2, 16 pixels)",
    "example",
)
def _():
    sgdef = SparseGammaDEF()
    sgdef.top_width, sgdef.mid_width, sgdef.bottom_width, sgdef.image_size = 4, 3, 2, 16
    counts = torch.poisson(torch.full((N, 16), 2.0), generator=torch.Generator().manual_seed(0))
    return sgdef.model, sgdef.guide, counts, {}


# examples/dmm.py: the DMM class's model and guide unchanged (networks as in the example); the
# wrapper only turns batched tensors into the packed, reversed sequence the guide's RNN reads,
# as the example's poly.get_mini_batch does.


class Emitter(nn.Module):
    def __init__(self, input_dim, z_dim, emission_dim):
        super().__init__()
        self.lin_z_to_hidden = nn.Linear(z_dim, emission_dim)
        self.lin_hidden_to_hidden = nn.Linear(emission_dim, emission_dim)
        self.lin_hidden_to_input = nn.Linear(emission_dim, input_dim)
        self.relu = nn.ReLU()

    def forward(self, z_t):
        h1 = self.relu(self.lin_z_to_hidden(z_t))
        h2 = self.relu(self.lin_hidden_to_hidden(h1))
        return torch.sigmoid(self.lin_hidden_to_input(h2))


class GatedTransition(nn.Module):
    def __init__(self, z_dim, transition_dim):
        super().__init__()
        self.lin_gate_z_to_hidden = nn.Linear(z_dim, transition_dim)
        self.lin_gate_hidden_to_z = nn.Linear(transition_dim, z_dim)
        self.lin_proposed_mean_z_to_hidden = nn.Linear(z_dim, transition_dim)
        self.lin_proposed_mean_hidden_to_z = nn.Linear(transition_dim, z_dim)
        self.lin_sig = nn.Linear(z_dim, z_dim)
        self.lin_z_to_loc = nn.Linear(z_dim, z_dim)
        self.lin_z_to_loc.weight.data = torch.eye(z_dim)
        self.lin_z_to_loc.bias.data = torch.zeros(z_dim)
        self.relu = nn.ReLU()
        self.softplus = nn.Softplus()

    def forward(self, z_t_1):
        _gate = self.relu(self.lin_gate_z_to_hidden(z_t_1))
        gate = torch.sigmoid(self.lin_gate_hidden_to_z(_gate))
        _proposed_mean = self.relu(self.lin_proposed_mean_z_to_hidden(z_t_1))
        proposed_mean = self.lin_proposed_mean_hidden_to_z(_proposed_mean)
        loc = (1 - gate) * self.lin_z_to_loc(z_t_1) + gate * proposed_mean
        scale = self.softplus(self.lin_sig(self.relu(proposed_mean)))
        return loc, scale


class Combiner(nn.Module):
    def __init__(self, z_dim, rnn_dim):
        super().__init__()
        self.lin_z_to_hidden = nn.Linear(z_dim, rnn_dim)
        self.lin_hidden_to_loc = nn.Linear(rnn_dim, z_dim)
        self.lin_hidden_to_scale = nn.Linear(rnn_dim, z_dim)
        self.tanh = nn.Tanh()
        self.softplus = nn.Softplus()

    def forward(self, z_t_1, h_rnn):
        h_combined = 0.5 * (self.tanh(self.lin_z_to_hidden(z_t_1)) + h_rnn)
        loc = self.lin_hidden_to_loc(h_combined)
        scale = self.softplus(self.lin_hidden_to_scale(h_combined))
        return loc, scale


def reverse_sequences(mini_batch, seq_lengths):
    """pyro.contrib.examples.polyphonic_data_loader.reverse_sequences."""
    reversed_mini_batch = torch.zeros_like(mini_batch)
    for b in range(mini_batch.size(0)):
        T = seq_lengths[b]
        time_slice = torch.arange(T - 1, -1, -1, device=mini_batch.device)
        reversed_mini_batch[b, 0:T, :] = torch.index_select(mini_batch[b, :, :], 0, time_slice)
    return reversed_mini_batch


def pad_and_reverse(rnn_output, seq_lengths):
    """pyro.contrib.examples.polyphonic_data_loader.pad_and_reverse."""
    rnn_output, _ = nn.utils.rnn.pad_packed_sequence(rnn_output, batch_first=True)
    return reverse_sequences(rnn_output, seq_lengths)


class DMM(nn.Module):
    def __init__(self, input_dim=88, z_dim=100, emission_dim=100, transition_dim=200, rnn_dim=600):
        super().__init__()
        self.emitter = Emitter(input_dim, z_dim, emission_dim)
        self.trans = GatedTransition(z_dim, transition_dim)
        self.combiner = Combiner(z_dim, rnn_dim)
        self.rnn = nn.RNN(
            input_size=input_dim,
            hidden_size=rnn_dim,
            nonlinearity="relu",
            batch_first=True,
            bidirectional=False,
            num_layers=1,
            dropout=0.0,
        )
        self.iafs = []
        self.z_0 = nn.Parameter(torch.zeros(z_dim))
        self.z_q_0 = nn.Parameter(torch.zeros(z_dim))
        self.h_0 = nn.Parameter(torch.zeros(1, 1, rnn_dim))

    def model(
        self,
        mini_batch,
        mini_batch_reversed,
        mini_batch_mask,
        mini_batch_seq_lengths,
        annealing_factor=1.0,
    ):
        T_max = mini_batch.size(1)
        pyro.module("dmm", self)
        z_prev = self.z_0.expand(mini_batch.size(0), self.z_0.size(0))
        with pyro.plate("z_minibatch", len(mini_batch)):
            for t in pyro.markov(range(1, T_max + 1)):
                z_loc, z_scale = self.trans(z_prev)
                with poutine.scale(scale=annealing_factor):
                    z_t = pyro.sample(
                        "z_%d" % t,
                        dist.Normal(z_loc, z_scale).mask(mini_batch_mask[:, t - 1 : t]).to_event(1),
                    )
                emission_probs_t = self.emitter(z_t)
                pyro.sample(
                    "obs_x_%d" % t,
                    dist.Bernoulli(emission_probs_t)
                    .mask(mini_batch_mask[:, t - 1 : t])
                    .to_event(1),
                    obs=mini_batch[:, t - 1, :],
                )
                z_prev = z_t

    def guide(
        self,
        mini_batch,
        mini_batch_reversed,
        mini_batch_mask,
        mini_batch_seq_lengths,
        annealing_factor=1.0,
    ):
        T_max = mini_batch.size(1)
        pyro.module("dmm", self)
        h_0_contig = self.h_0.expand(1, mini_batch.size(0), self.rnn.hidden_size).contiguous()
        rnn_output, _ = self.rnn(mini_batch_reversed, h_0_contig)
        rnn_output = pad_and_reverse(rnn_output, mini_batch_seq_lengths)
        z_prev = self.z_q_0.expand(mini_batch.size(0), self.z_q_0.size(0))
        with pyro.plate("z_minibatch", len(mini_batch)):
            for t in pyro.markov(range(1, T_max + 1)):
                z_loc, z_scale = self.combiner(z_prev, rnn_output[:, t - 1, :])
                if len(self.iafs) > 0:
                    z_dist = TransformedDistribution(dist.Normal(z_loc, z_scale), self.iafs)
                    assert z_dist.event_shape == (self.z_q_0.size(0),)
                    assert z_dist.batch_shape[-1:] == (len(mini_batch),)
                else:
                    z_dist = dist.Normal(z_loc, z_scale)
                    assert z_dist.event_shape == ()
                    assert z_dist.batch_shape[-2:] == (
                        len(mini_batch),
                        self.z_q_0.size(0),
                    )
                with pyro.poutine.scale(scale=annealing_factor):
                    if len(self.iafs) > 0:
                        z_t = pyro.sample("z_%d" % t, z_dist.mask(mini_batch_mask[:, t - 1]))
                    else:
                        z_t = pyro.sample(
                            "z_%d" % t,
                            z_dist.mask(mini_batch_mask[:, t - 1 : t]).to_event(1),
                        )
                z_prev = z_t


def dmm_programs(dmm):
    """The DMM's model and guide called on batched tensors ``(sequences, mask, lengths)``."""

    def packed(sequences, lengths):
        reversed_ = reverse_sequences(sequences, lengths)
        return nn.utils.rnn.pack_padded_sequence(
            reversed_, lengths.cpu(), batch_first=True, enforce_sorted=False
        )

    def model(sequences, mask, lengths):
        dmm.model(sequences, packed(sequences, lengths), mask, lengths)

    def guide(sequences, mask, lengths):
        dmm.guide(sequences, packed(sequences, lengths), mask, lengths)

    return model, guide


@entry("pyro_example_dmm", "pyro examples/dmm.py (DMM.model, DMM.guide unchanged)", "example")
def _():
    dmm = DMM(input_dim=5, z_dim=3, emission_dim=8, transition_dim=8, rnn_dim=8)
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, 7, (N,), generator=generator)
    mask = (torch.arange(6)[None, :] < lengths[:, None]).float()
    sequences = (torch.rand(N, 6, 5, generator=generator) > 0.6).float() * mask[..., None]
    model, guide = dmm_programs(dmm)
    return model, guide, (sequences, mask, lengths), {"batch_size": 5}


# examples/lda.py: model and parametrized_guide unchanged


def lda_model(data=None, args=None, batch_size=None):
    with pyro.plate("topics", args.num_topics):
        topic_weights = pyro.sample("topic_weights", dist.Gamma(1.0 / args.num_topics, 1.0))
        topic_words = pyro.sample(
            "topic_words", dist.Dirichlet(torch.ones(args.num_words) / args.num_words)
        )
    with pyro.plate("documents", args.num_docs) as ind:
        if data is not None:
            with pyro.util.ignore_jit_warnings():
                assert data.shape == (args.num_words_per_doc, args.num_docs)
            data = data[:, ind]
        doc_topics = pyro.sample("doc_topics", dist.Dirichlet(topic_weights))
        with pyro.plate("words", args.num_words_per_doc):
            word_topics = pyro.sample(
                "word_topics",
                dist.Categorical(doc_topics),
                infer={"enumerate": "parallel"},
            )
            data = pyro.sample("doc_words", dist.Categorical(topic_words[word_topics]), obs=data)
    return topic_weights, topic_words, data


def make_predictor(args):
    layer_sizes = [args.num_words] + [int(s) for s in args.layer_sizes.split("-")]
    layer_sizes += [args.num_topics]
    layers = []
    for in_size, out_size in zip(layer_sizes, layer_sizes[1:]):
        layer = nn.Linear(in_size, out_size)
        layer.weight.data.normal_(0, 0.001)
        layer.bias.data.normal_(0, 0.001)
        layers.append(layer)
        layers.append(nn.Sigmoid())
    layers.append(nn.Softmax(dim=-1))
    return nn.Sequential(*layers)


def parametrized_guide(predictor, data, args, batch_size=None):
    topic_weights_posterior = pyro.param(
        "topic_weights_posterior",
        lambda: torch.ones(args.num_topics),
        constraint=constraints.positive,
    )
    topic_words_posterior = pyro.param(
        "topic_words_posterior",
        lambda: torch.ones(args.num_topics, args.num_words),
        constraint=constraints.greater_than(0.5),
    )
    with pyro.plate("topics", args.num_topics):
        pyro.sample("topic_weights", dist.Gamma(topic_weights_posterior, 1.0))
        pyro.sample("topic_words", dist.Dirichlet(topic_words_posterior))
    pyro.module("predictor", predictor)
    with pyro.plate("documents", args.num_docs, batch_size) as ind:
        data = data[:, ind]
        counts = torch.zeros(args.num_words, ind.size(0)).scatter_add(
            0, data, torch.ones(data.shape)
        )
        doc_topics = predictor(counts.transpose(0, 1))
        pyro.sample("doc_topics", dist.Delta(doc_topics, event_dim=1))


@entry(
    "pyro_example_lda",
    "pyro examples/lda.py (model, parametrized_guide unchanged)",
    "example",
    "model_enumerated",
)
def _():
    args = argparse.Namespace(
        num_topics=3, num_words=10, num_words_per_doc=6, num_docs=N, layer_sizes="8"
    )
    data = torch.randint(10, (6, N), generator=torch.Generator().manual_seed(0))
    guide = functools.partial(parametrized_guide, make_predictor(args))
    kwargs = {"data": data, "args": args, "batch_size": 4}
    return lda_model, guide, None, {"model_kwargs": kwargs}
