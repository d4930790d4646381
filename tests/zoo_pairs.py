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
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyro
import pyro.distributions as dist
import pyro.distributions.transforms as T
import pyro.poutine as poutine
import torch
import torch.nn as nn
from pyro.contrib.easyguide import easy_guide
from pyro.infer import config_enumerate
from pyro.infer.autoguide import (
    AutoDelta,
    AutoDiagonalNormal,
    AutoGuideList,
    AutoIAFNormal,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from pyro.nn import PyroModule, PyroSample
from torch.distributions import constraints

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


@entry("deterministic_sites", "pyro.deterministic records, global and local")
def _():
    def model(x):
        scale = pyro.sample("scale", dist.LogNormal(0.0, 0.5))
        pyro.deterministic("variance", scale**2)
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.deterministic("twice_z", 2 * z)
            pyro.sample("obs", dist.Normal(z, scale), obs=x)

    def guide(x):
        loc = pyro.param("log_scale_loc", torch.tensor(0.0))
        pyro.sample("scale", dist.LogNormal(loc, 0.2))
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(x / 2, 0.7))

    return model, guide, rows(), {"batch_size": 5}


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


# ----- issue 26: more programs from Pyro's examples and tutorials, one per failure class --------
TUTORIALS = "pyro tutorial "


def _labels(count=N, classes=3, seed=0):
    return torch.randint(classes, (count,), generator=torch.Generator().manual_seed(seed))


@entry("cvae_labels_keyword", TUTORIALS + "cvae (labels as a keyword; dreg dropped them)")
def _():
    decoder, encoder = nn.Linear(2 + 3, 4), nn.Linear(4 + 3, 4)

    def model(x, y=None):
        pyro.module("decoder", decoder)
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(x.new_zeros(2), 1.0).to_event(1))
            hot = nn.functional.one_hot(y, 3).to(z).expand(z.shape[:-1] + (3,))
            loc = decoder(torch.cat([z, hot], -1))
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)

    def guide(x, y=None):
        pyro.module("encoder", encoder)
        with pyro.plate("data", len(x)):
            out = encoder(torch.cat([x, nn.functional.one_hot(y, 3).to(x)], -1))
            pyro.sample("z", dist.Normal(out[..., :2], out[..., 2:].exp()).to_event(1))

    return model, guide, {"x": rows(4), "y": _labels()}, {"batch_size": 5}


@entry("hmm_markov_enumerated", TUTORIALS + "hmm (pyro.markov, states enumerated)",
       "model_enumerated")  # fmt: skip
def _():
    def model(x):
        transition = pyro.param("transition", torch.full((2, 2), 0.5),
                                constraint=constraints.simplex)  # fmt: skip
        locs = pyro.param("locs", torch.tensor([-1.0, 1.0]))
        with pyro.plate("sequences", x.shape[0], dim=-1):
            state = 0
            for t in pyro.markov(range(x.shape[1])):
                state = pyro.sample(f"state_{t}", dist.Categorical(transition[state]),
                                    infer={"enumerate": "parallel"})  # fmt: skip
                pyro.sample(f"x_{t}", dist.Normal(locs[state], 1.0), obs=x[:, t])

    return model, lambda x: None, rows(4), {"batch_size": 5}


def _gmm(x):
    weights = pyro.sample("weights", dist.Dirichlet(0.5 * torch.ones(2)))
    scale = pyro.sample("scale", dist.LogNormal(0.0, 2.0))
    with pyro.plate("components", 2):
        locs = pyro.sample("locs", dist.Normal(0.0, 10.0))
    with pyro.plate("data", len(x)):
        assignment = pyro.sample("assignment", dist.Categorical(weights),
                                 infer={"enumerate": "parallel"})  # fmt: skip
        pyro.sample("obs", dist.Normal(locs[assignment], scale), obs=x)


@entry("gmm_map_guide", TUTORIALS + "gmm, MAP guide (AutoDelta over the globals)",
       "model_enumerated")  # fmt: skip
def _():
    guide = AutoDelta(poutine.block(_gmm, expose=["weights", "locs", "scale"]))
    return _gmm, guide, rows(), {}


@entry("gmm_full_guide", TUTORIALS + "gmm, AutoNormal over the globals", "model_enumerated")
def _():
    guide = AutoNormal(poutine.block(_gmm, expose=["weights", "locs", "scale"]))
    return _gmm, guide, rows(), {}


@entry(
    "bayesian_regression_pyrosample",
    TUTORIALS + "bayesian regression (PyroModule with PyroSample priors: t() of a sample)",
)
def _():
    class BayesianRegression(PyroModule):
        def __init__(self):
            super().__init__()
            self.linear = PyroModule[nn.Linear](3, 1)
            self.linear.weight = PyroSample(dist.Normal(0.0, 1.0).expand([1, 3]).to_event(2))
            self.linear.bias = PyroSample(dist.Normal(0.0, 10.0).expand([1]).to_event(1))

        def forward(self, x, y=None):
            sigma = pyro.sample("sigma", dist.Uniform(0.0, 10.0))
            mean = self.linear(x).squeeze(-1)
            with pyro.plate("data", x.shape[0]):
                pyro.sample("obs", dist.Normal(mean, sigma), obs=y)

    model = BayesianRegression()
    x = rows(3)
    return model, AutoDiagonalNormal(model), (x, x.sum(-1)), {}


@entry("prodlda_batchnorm", "pyro tutorial prodlda (batch norm in the decoder)")
def _():
    encoder, decoder, norm = nn.Linear(6, 4), nn.Linear(2, 6), nn.BatchNorm1d(6)

    def model(docs):
        pyro.module("decoder", decoder)
        pyro.module("norm", norm)
        with pyro.plate("documents", docs.shape[0]):
            logtheta = pyro.sample("logtheta", dist.Normal(docs.new_zeros(2), 1.0).to_event(1))
            theta = torch.softmax(logtheta, -1)
            word_probs = torch.softmax(norm(decoder(theta)), -1)
            pyro.sample("doc_words", dist.Multinomial(int(docs.sum(-1).max()), word_probs),
                        obs=docs)  # fmt: skip

    def guide(docs):
        pyro.module("encoder", encoder)
        with pyro.plate("documents", docs.shape[0]):
            out = encoder(docs)
            pyro.sample("logtheta", dist.Normal(out[..., :2], out[..., 2:].exp()).to_event(1))

    counts = torch.zeros(N, 6)
    counts[torch.arange(N), torch.arange(N) % 6] = 5.0  # every document has 5 words
    return model, guide, counts, {"batch_size": 6}


def _eight_schools(y, sigma):
    mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = pyro.sample("tau", dist.HalfCauchy(5.0))
    with pyro.plate("schools", len(y)):
        theta = pyro.sample("theta", dist.Normal(mu, tau))
        pyro.sample("obs", dist.Normal(theta, sigma), obs=y)


EIGHT_SCHOOLS = (
    torch.tensor([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]),
    torch.tensor([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]),
)


@entry("eight_schools_lowrank", "pyro examples/eight_schools, AutoLowRankMultivariateNormal")
def _():
    return _eight_schools, AutoLowRankMultivariateNormal(_eight_schools, rank=2), EIGHT_SCHOOLS, {}


@entry("eight_schools_iaf", "pyro examples/eight_schools, AutoIAFNormal")
def _():
    return _eight_schools, AutoIAFNormal(_eight_schools, hidden_dim=[16]), EIGHT_SCHOOLS, {}


@entry("eight_schools_guide_list", "pyro examples/eight_schools, AutoGuideList (Delta + Normal)")
def _():
    guide = AutoGuideList(_eight_schools)
    guide.append(AutoDelta(poutine.block(_eight_schools, expose=["mu", "tau"])))
    guide.append(AutoNormal(poutine.block(_eight_schools, hide=["mu", "tau"])))
    return _eight_schools, guide, EIGHT_SCHOOLS, {}


@entry("easyguide", "pyro tutorial easyguide (a group of globals, a local per-row group)")
def _():
    def model(x):
        mu = pyro.sample("mu", dist.Normal(0.0, 3.0))
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(mu, 1.0))
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    @easy_guide(model)
    def guide(self, x):
        self.map_estimate("mu")
        with self.plate("data", len(x)):
            group = self.group(match="z")
            loc = pyro.param("z_loc", torch.zeros(len(x), 1))
            scale = pyro.param("z_scale", torch.ones(len(x), 1), constraint=constraints.positive)
            group.sample("z_aux", dist.Normal(loc, scale).to_event(1))

    return model, guide, rows(), {}


def _joined_batch(*tensors):
    """The tensors broadcast in their batch dimensions (all but the last), to concatenate."""
    batch = torch.broadcast_shapes(*(t.shape[:-1] for t in tensors))
    return [t.expand(batch + t.shape[-1:]) for t in tensors]


@entry("ss_vae_labels_enumerated", TUTORIALS + "ss-vae (labels enumerated in the guide)")
def _():
    classifier, encoder, decoder = nn.Linear(4, 2), nn.Linear(4 + 2, 4), nn.Linear(2 + 2, 4)

    def model(x):
        pyro.module("decoder", decoder)
        with pyro.plate("data", len(x)):
            y = pyro.sample("y", dist.OneHotCategorical(x.new_ones(2) / 2))
            z = pyro.sample("z", dist.Normal(x.new_zeros(2), 1.0).to_event(1))
            loc = decoder(torch.cat(_joined_batch(z, y), -1))
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)

    @config_enumerate
    def guide(x):
        pyro.module("classifier", classifier)
        pyro.module("encoder", encoder)
        with pyro.plate("data", len(x)):
            y = pyro.sample("y", dist.OneHotCategorical(logits=classifier(x)))
            out = encoder(torch.cat(_joined_batch(x, y), -1))
            pyro.sample("z", dist.Normal(out[..., :2], out[..., 2:].exp()).to_event(1))

    return model, guide, rows(4), {"batch_size": 5}


@entry("conditional_flow_guide", "pyro distributions: a conditional affine autoregressive guide")
def _():
    flow = T.conditional_affine_autoregressive(2, context_dim=3, hidden_dims=[8])

    def model(x):
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(x.new_zeros(2), 1.0).to_event(1))
            pyro.sample("obs", dist.Normal(z.sum(-1, keepdim=True), 1.0).to_event(1),
                        obs=x[..., :1])  # fmt: skip

    def guide(x):
        pyro.module("flow", flow)
        with pyro.plate("data", len(x)):
            base = dist.Normal(x.new_zeros(len(x), 2), 1.0).to_event(1)
            posterior = dist.ConditionalTransformedDistribution(base, [flow]).condition(x)
            pyro.sample("z", posterior)

    return model, guide, rows(3), {"batch_size": 5}


@entry("poisson_counts", "a Poisson GLM with a per-row log-rate")
def _():
    def model(x, counts):
        w = pyro.param("w", torch.zeros(2))
        with pyro.plate("data", len(x)):
            log_rate = pyro.sample("log_rate", dist.Normal((x * w).sum(-1), 1.0))
            pyro.sample("counts", dist.Poisson(log_rate.exp()), obs=counts)

    def guide(x, counts):
        shift = pyro.param("shift", torch.tensor(0.0))
        with pyro.plate("data", len(x)):
            pyro.sample("log_rate", dist.Normal(torch.log1p(counts) + shift, 0.5))

    counts = torch.poisson(torch.full((N,), 3.0), generator=torch.Generator().manual_seed(0))
    return model, guide, (rows(2), counts), {"batch_size": 5}


@entry("factor_likelihood", "pyro.factor as the likelihood, and a pyro.factor on the global")
def _():
    def model(x):
        mu = pyro.sample("mu", dist.Normal(0.0, 3.0))
        pyro.factor("soft_prior", -0.5 * mu**2)  # outside the data plate: not an observation
        with pyro.plate("data", len(x)):
            pyro.factor("likelihood", dist.Normal(mu, 1.0).log_prob(x))

    def guide(x):
        loc = pyro.param("mu_loc", torch.tensor(0.0))
        pyro.sample("mu", dist.Normal(loc, 0.5))

    return model, guide, rows(), {"batch_size": 5}


@entry("asserts_its_shapes", "pyro tests/infer: a program that asserts its own shapes")
def _():
    def model(x):
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            assert z.shape == (len(x),), z.shape
            pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(w * x, 0.8))
            assert z.shape == (len(x),), z.shape

    return model, guide, rows(), {"batch_size": 5}


@entry("boolean_mask_indexing", "observations selected by a boolean mask (missing values)")
def _():
    def model(x, observed):
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("obs", dist.Normal(z[observed], 1.0).to_event(1), obs=x[observed])

    def guide(x, observed):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(w * x, 0.8))

    return model, guide, (rows(), torch.arange(N) % 4 > 0), {"batch_size": None}


@entry("plates_of_the_data_size", "an inner plate of the data's size, entered first")
def _():
    def model(x):  # x: (5, 5); rows on dim 0 are the data plate's, at dim -2
        with pyro.plate("features", x.shape[1], dim=-1):
            with pyro.plate("data", x.shape[0], dim=-2):
                z = pyro.sample("z", dist.Normal(0.0, 1.0))
                pyro.sample("obs", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        w = pyro.param("w", torch.tensor(0.5))
        with pyro.plate("features", x.shape[1], dim=-1):
            with pyro.plate("data", x.shape[0], dim=-2):
                pyro.sample("z", dist.Normal(w * x, 0.8))

    data = torch.randn(5, 5, generator=torch.Generator().manual_seed(0))
    return model, guide, data, {"batch_size": None}


# ----- Pyro's example programs, model and guide code unchanged (tutorials/pyro_examples.py) ------


def load_pyro_examples():
    path = Path(__file__).parents[1] / "tutorials" / "pyro_examples.py"
    spec = importlib.util.spec_from_file_location("ppgen_pyro_examples", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


examples = load_pyro_examples()


def binary_images(count=N, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(count, 1, 28, 28, generator=generator) > 0.7).float()


@entry("pyro_example_vae", "pyro examples/vae/vae.py (VAE.model, VAE.guide unchanged)", "example")
def _():
    vae = examples.PyroExampleVAE(z_dim=4, hidden_dim=16)
    return vae.model, vae.guide, binary_images(), {"batch_size": 5}


@entry(
    "pyro_example_sparse_gamma_def",
    "pyro examples/sparse_gamma_def.py (model, guide unchanged; widths 4/3/2, 16 pixels)",
    "example",
)
def _():
    sgdef = examples.SparseGammaDEF()
    sgdef.top_width, sgdef.mid_width, sgdef.bottom_width, sgdef.image_size = 4, 3, 2, 16
    counts = torch.poisson(torch.full((N, 16), 2.0), generator=torch.Generator().manual_seed(0))
    return sgdef.model, sgdef.guide, counts, {}


@entry("pyro_example_dmm", "pyro examples/dmm.py (DMM.model, DMM.guide unchanged)", "example")
def _():
    dmm = examples.DMM(input_dim=5, z_dim=3, emission_dim=8, transition_dim=8, rnn_dim=8)
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, 7, (N,), generator=generator)
    mask = (torch.arange(6)[None, :] < lengths[:, None]).float()
    sequences = (torch.rand(N, 6, 5, generator=generator) > 0.6).float() * mask[..., None]
    model, guide = examples.dmm_programs(dmm)
    return model, guide, (sequences, mask, lengths), {"batch_size": 5}


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
    guide = functools.partial(examples.parametrized_guide, examples.make_predictor(args))
    kwargs = {"data": data, "args": args, "batch_size": 4}
    return examples.lda_model, guide, None, {"model_kwargs": kwargs}
