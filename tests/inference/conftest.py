"""Exact quantities of a tiny sigmoid belief net by enumeration, for estimator tests."""

import itertools

import pyro
import pyro.distributions as dist
import pytest
import torch
from torch.distributions import Bernoulli

from ppgen import PPCA, SigmoidBeliefNet


class TinySBN:
    """A one-layer SBN (3 pixels, 2 latent bits by default) whose ELBO and 2-sample bound are
    exact sums over its latent states."""

    def __init__(self, seed=0, data_dim=3, latent_dim=2):
        torch.manual_seed(seed)
        self.model = SigmoidBeliefNet(data_dim, [latent_dim])
        with torch.no_grad():
            for p in self.model.parameters():
                p.normal_(0, 1.0)
        # (2**latent_dim, latent_dim)
        self.states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=latent_dim)))

    def log_q_and_log_p(self, x):
        """``log q(h | x)`` and ``log p(x, h)`` for every state h, each ``(2**latent_dim,)``;
        x is ``(data_dim,)``."""
        m = self.model
        log_q = Bernoulli(logits=m.encoders[0](x)).log_prob(self.states).sum(-1)
        log_p = m._log_prior([self.states])
        log_p = log_p + Bernoulli(logits=m.decoders[0](self.states)).log_prob(x).sum(-1)
        return log_q, log_p

    def elbo(self, x):
        log_q, log_p = self.log_q_and_log_p(x)
        return (log_q.exp() * (log_p - log_q)).sum()

    def two_sample_bound(self, x):
        log_q, log_p = self.log_q_and_log_p(x)
        log_w = log_p - log_q
        pair_q = log_q[:, None] + log_q[None, :]  # (S, S)
        pair_bound = torch.logaddexp(log_w[:, None], log_w[None, :]) - torch.log(torch.tensor(2.0))
        return (pair_q.exp() * pair_bound).sum()

    def rws_objective(self, x):
        """Exact expectation, over K = 2 guide samples, of RWS's surrogate: the 2-sample bound
        with log q held constant (wake-theta) plus the wake-phi term sum_k w~_k log q(z_k)."""
        log_q, log_p = self.log_q_and_log_p(x)
        pair_q = (log_q[:, None] + log_q[None, :]).exp().detach()  # q(h1) q(h2), constants
        S = len(self.states)
        log_w1 = (log_p - log_q.detach())[:, None].expand(S, S)
        log_w2 = (log_p - log_q.detach())[None, :].expand(S, S)
        bound = torch.logaddexp(log_w1, log_w2) - torch.log(torch.tensor(2.0))
        w1 = torch.sigmoid(log_w1 - log_w2).detach()  # normalized weight of the first sample
        wake_phi = w1 * log_q[:, None] + (1 - w1) * log_q[None, :]
        return (pair_q * (bound + wake_phi)).sum()

    def exact_gradient(self, objective, x):
        """Gradient of ``-objective(x)`` (a loss) for every parameter, flattened and joined."""
        params = list(self.model.parameters())
        grads = torch.autograd.grad(-objective(x), params)
        return torch.cat([g.flatten() for g in grads])

    def estimated_gradients(self, loss_fn, x, copies=200, repeats=300):
        """``repeats`` gradient estimates of the per-datapoint loss, each the mean of ``copies``
        independent single-datapoint estimates (x replicated in one batch): ``(repeats, P)``."""
        params = list(self.model.parameters())
        batch = x.expand(copies, -1).contiguous()
        rows = []
        for _ in range(repeats):
            grads = torch.autograd.grad(loss_fn(self.model.model, self.model.guide, batch), params)
            rows.append(torch.cat([g.flatten() for g in grads]) / copies)
        return torch.stack(rows)


@pytest.fixture
def tiny_sbn():
    return TinySBN()


def assert_unbiased(estimates, exact, num_se=4.0):
    """Every coordinate of the mean estimate within ``num_se`` standard errors of the exact one."""
    mean = estimates.mean(0)
    se = estimates.std(0) / estimates.shape[0] ** 0.5
    z = (mean - exact).abs() / (se + 1e-12)
    bad = (mean - exact).abs() > num_se * se + 1e-6
    assert not bad.any(), f"max |z| = {z.max():.2f}; mean {mean[bad]}, exact {exact[bad]}"


@pytest.fixture
def check_unbiased():
    return assert_unbiased


def normal_model(x):
    """A user's own pair: z ~ N(loc, I), x ~ N(z, I); the MLE of ``loc`` is the data mean."""
    loc = pyro.param("loc", torch.zeros(2))
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Normal(loc, 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z, 1.0).to_event(1), obs=x)


def normal_guide(x):
    """q(z | x) = N(x / 2 + shift, 0.7^2 I); the exact posterior mean is (x + loc) / 2."""
    shift = pyro.param("shift", torch.zeros(2))
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Normal(x / 2 + shift, 0.7).to_event(1))


@pytest.fixture
def normal_pair():
    return normal_model, normal_guide


def _parameters(shapes: dict, seed: int) -> dict:
    """Initial values of the given shapes, drawn N(0, 0.7^2) with ``seed``, created as
    ``pyro.param``s (the programs read them by ``_read``, with these as their initial values,
    so that ``fit``'s own parameter scope finds them too)."""
    generator = torch.Generator().manual_seed(seed)
    initial = {
        name: 0.7 * torch.randn(shape, generator=generator) for name, shape in shapes.items()
    }
    _read(initial)
    return initial


def _read(initial: dict, names=None) -> dict:
    return {k: pyro.param(k, initial[k]) for k in (names or initial)}


class MixedPair:
    """A user's pair over a plate named ``"items"``: a categorical latent ``c`` (3 classes, an
    integer ``Categorical``; ``family="onehot"``: a ``OneHotCategorical``; ``family="bernoulli"``:
    a Bernoulli) and a 2-bit Bernoulli latent ``z`` whose guide depends on ``c``,
    x ~ N(M[c] + z W, I). Its ELBO is an exact sum over the 12 (or 8) states."""

    def __init__(self, family="categorical", seed=0, num_points=4):
        self.family, self.classes = family, 2 if family == "bernoulli" else 3
        C, D = self.classes, 2
        shapes = {"A": (D, C), "a": (C,), "B": (D, 2), "Bc": (C, 2),
                  "pi": (C,), "rho": (2,), "M": (C, D), "W": (2, D)}  # fmt: skip
        if family == "bernoulli":  # one logit for c in place of C
            shapes.update(A=(D,), a=(), pi=())
        self.params = _parameters(shapes, seed)
        generator = torch.Generator().manual_seed(seed + 100)
        self.x = torch.randn(num_points, D, generator=generator)

    def _c_distribution(self, logits):
        if self.family == "categorical":
            return dist.Categorical(logits=logits)
        if self.family == "onehot":
            return dist.OneHotCategorical(logits=logits)
        return dist.Bernoulli(logits=logits)

    def _c_value(self, c: int, num_points: int) -> torch.Tensor:
        """Class ``c`` as this family writes it, for every point."""
        if self.family == "onehot":
            return (
                torch.nn.functional.one_hot(torch.tensor(c), self.classes)
                .float()
                .expand(num_points, self.classes)
            )
        return torch.full((num_points,), float(c))

    def _index(self, table, c):
        """Row ``c`` of ``table``: by index, or by the one-hot value's product."""
        return c @ table if self.family == "onehot" else table[c.long()]

    def model(self, x):
        p = _read(self.params)
        with pyro.plate("items", x.shape[0]):
            c = pyro.sample("c", self._c_distribution(p["pi"]))
            z = pyro.sample("z", dist.Bernoulli(logits=p["rho"]).to_event(1))
            loc = self._index(p["M"], c) + z @ p["W"]  # (..., N, D)
            pyro.sample("x", dist.Normal(loc, 1.0).to_event(1), obs=x)

    def guide(self, x):
        p = _read(self.params)
        with pyro.plate("items", x.shape[0]):
            c = pyro.sample("c", self._c_distribution(x @ p["A"] + p["a"]))
            logits = x @ p["B"] + self._index(p["Bc"], c)
            pyro.sample("z", dist.Bernoulli(logits=logits).to_event(1))

    def leaves(self) -> list:
        return [pyro.param(k).unconstrained() for k in self.params]

    def elbo(self, x):
        """The exact ELBO summed over the points of ``x``, by enumeration."""
        p = _read(self.params)
        total = 0.0
        for c in range(self.classes):
            c_value = self._c_value(c, x.shape[0])
            log_qc = self._c_distribution(x @ p["A"] + p["a"]).log_prob(c_value)
            log_pc = self._c_distribution(p["pi"]).log_prob(c_value)
            for bits in itertools.product([0.0, 1.0], repeat=2):
                z = torch.tensor(bits).expand(x.shape[0], 2)
                log_qz = Bernoulli(logits=x @ p["B"] + p["Bc"][c]).log_prob(z).sum(-1)
                log_pz = Bernoulli(logits=p["rho"]).log_prob(z).sum(-1)
                log_px = dist.Normal(p["M"][c] + z @ p["W"], 1.0).log_prob(x).sum(-1)
                log_q = log_qc + log_qz
                total = total + (log_q.exp() * (log_pc + log_pz + log_px - log_q)).sum()
        return total


class GlobalPair:
    """A user's pair with a global continuous latent beside local discrete ones: mu ~ N(0, I_2)
    outside the plate ``"obs"``, h_n ~ Bernoulli(0.4) (3 bits), x_n ~ N(h_n V + mu, I_2); the
    guide draws mu by reparameterization and h_n from logits that depend on x_n and on mu."""

    def __init__(self, seed=0, num_points=3):
        shapes = {"m": (2,), "log_s": (2,), "E": (2, 3), "Em": (2, 3), "e": (3,), "V": (3, 2)}
        self.params = _parameters(shapes, seed)
        generator = torch.Generator().manual_seed(seed + 100)
        self.x = torch.randn(num_points, 2, generator=generator)
        self.states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)))  # (8, 3)

    def model(self, x):
        V = _read(self.params, ["V"])["V"]
        mu = pyro.sample("mu", dist.Normal(torch.zeros(2), 1.0).to_event(1))
        with pyro.plate("obs", x.shape[0]):
            h = pyro.sample("h", dist.Bernoulli(torch.full((3,), 0.4)).to_event(1))
            # mu is (2,), or (K, 1, 2) under a plate of K samples: it broadcasts over the points.
            pyro.sample("x", dist.Normal(h @ V + mu, 1.0).to_event(1), obs=x)

    def _h_logits(self, x, mu):
        p = _read(self.params, ["E", "Em", "e"])
        return x @ p["E"] + mu @ p["Em"] + p["e"]  # (..., N, 3)

    def guide(self, x):
        m, log_s = _read(self.params, ["m", "log_s"]).values()
        mu = pyro.sample("mu", dist.Normal(m, log_s.exp()).to_event(1))
        with pyro.plate("obs", x.shape[0]):
            pyro.sample("h", dist.Bernoulli(logits=self._h_logits(x, mu)).to_event(1))

    def leaves(self) -> list:
        return [pyro.param(k).unconstrained() for k in self.params]

    def reference_gradients(self, num_draws: int, seed: int = 1) -> torch.Tensor:
        """``(num_draws, P)`` gradients of the negative ELBO, each exact in the discrete
        latents (8 states summed per point) at one reparameterized draw of mu."""
        generator = torch.Generator().manual_seed(seed)
        rows = []
        for _ in range(num_draws):
            eps = torch.randn(2, generator=generator)
            rows.append(torch.cat([g.flatten() for g in self._exact_in_h(eps)]))
        return torch.stack(rows)

    def _exact_in_h(self, eps):
        m, log_s, V = _read(self.params, ["m", "log_s", "V"]).values()
        mu = m + log_s.exp() * eps
        x, states = self.x, self.states
        log_q_mu = dist.Normal(m, log_s.exp()).log_prob(mu).sum()
        log_p_mu = dist.Normal(0.0, 1.0).log_prob(mu).sum()
        logits = self._h_logits(x, mu)  # (N, 3)
        log_q_h = Bernoulli(logits=logits[:, None, :]).log_prob(states).sum(-1)  # (N, 8)
        log_p_h = Bernoulli(probs=torch.tensor(0.4)).log_prob(states).sum(-1)  # (8,)
        loc = states @ V + mu  # (8, 2)
        log_px = dist.Normal(loc, 1.0).log_prob(x[:, None, :]).sum(-1)  # (N, 8)
        local = (log_q_h.exp() * (log_p_h + log_px - log_q_h)).sum()
        return torch.autograd.grad(-(local + log_p_mu - log_q_mu), self.leaves())


@pytest.fixture
def mixed_pair():
    return MixedPair


@pytest.fixture
def global_pair():
    return GlobalPair


@pytest.fixture
def sbn_of_size():
    """``sbn_of_size(seed, data_dim, latent_dim)``: a :class:`TinySBN` of another size."""
    return TinySBN


def ppca_with_an_imperfect_guide(seed=0):
    """PPCA on 5 dimensions, 2 factors, and a guide near (not at) its exact posterior."""
    torch.manual_seed(seed)
    model = PPCA(5, 2)
    x = torch.randn(3, 5) * 1.5
    with torch.no_grad():
        posterior = model.posterior(x)
        # Guide mean: the posterior's, through a least-squares fit of (weight, bias), then moved.
        design = torch.cat([x, torch.ones(3, 1)], 1)
        solution = torch.linalg.lstsq(design, posterior.loc).solution  # (6, 2)
        model.guide_weight.copy_(solution[:5].T)
        model.guide_bias.copy_(solution[5] + 0.3)
        scale_tril = torch.linalg.cholesky(posterior.covariance_matrix[0]).detach()
        model.guide_scale_tril = scale_tril * 1.3
    return model, x


@pytest.fixture
def imperfect_ppca():
    """``imperfect_ppca(seed)``: ``(model, x)``, PPCA with a guide near its exact posterior."""
    return ppca_with_an_imperfect_guide
