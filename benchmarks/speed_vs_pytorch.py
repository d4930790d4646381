"""Benchmark: ppgen's training step against a hand-written PyTorch loop for the same computation.

Issue 7's reference. For each configuration, ppgen's ``fit`` (Pyro model/guide, estimator by
name) and a hand-written loop (the same ``torch.nn`` modules called directly, the loss written out
in tensor code) train the same model on the same data with the same optimizer (Adam, cosine
schedule), batch size and number of steps. ppgen runs twice: with its default compiled step
(``compile="auto"``, a checked TorchScript trace) and eagerly (``compile=False``), to show what the
trace buys. The three are run interleaved, ``--repeats`` times each, in one process; each run's
time per step excludes its first ``WARMUP`` steps, and all of them log (one host sync) every
``WARMUP`` steps. Reported: the median time per step of each, throughput in data points per
second, and the ratios to the hand-written loop (median over repeats of the per-repeat ratio).
One thread unless ``--threads`` says otherwise. With ``--device cuda`` everything runs on the GPU
and the peak GPU memory of each run is recorded too.

Configurations (data: scikit-learn's digits, batch 128):

- VAE (MLP 64-200-200-10, Bernoulli pixels, diagonal Gaussian guide) on thresholded digits:
  ``trace`` and ``iwae`` with K = 1, 5, 50;
- SBN with one layer of 200 binary latents on thresholded digits: ``tracegraph`` (no baseline,
  REINFORCE per data point) and ``vimco`` with K = 5;
- PPCA with 10 factors on the 61 non-constant digit pixels (levels 0..16): ``trace``;
- a RealNVP flow (4 coupling layers, hidden 128, logit preprocessing) on dequantized digits:
  exact maximum likelihood through ``trace`` (the flow has no latents);
- issue 27: the same SBN with ``rloo`` (K = 5), ``arm``, ``disarm``, ``rebar`` (tuned),
  ``concrete`` and ``straight_through`` (temperature 0.5), ``tvo`` and ``renyi`` (K = 5);
- issue 14: the same VAE written as a user's plain Pyro pair (``pyro.module`` + plate +
  ``to_event``), through ``fit`` with its defaults.

``tests/test_benchmark_losses.py`` checks that the hand-written losses below are ppgen's
objectives: the flow's exactly (value and gradient), the others' values in expectation.

Run:  python benchmarks/speed_vs_pytorch.py [--repeats 5] [--steps 300] [--device cpu]
Writes benchmarks/results/speed_vs_pytorch[_DEVICE].{csv,md}.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch.distributions import constraints, transform_to

import ppgen
from ppgen.models import PPCA, VAE, FlowDensity, SigmoidBeliefNet

WARMUP = 20
BATCH = 128
LR = 1e-3
LOG_2PI = math.log(2 * math.pi)


def machine(device: torch.device) -> str:
    text = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"pyro {pyro.__version__}, Python {platform.python_version()}"
    )
    if device.type == "cuda":
        text += f", GPU {torch.cuda.get_device_name(device)}"
    return text


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----- the hand-written losses: negative bound summed over the batch, gradient the estimator's ---
def vae_loss(model: VAE, batch: torch.Tensor, particles: int, iwae: bool) -> torch.Tensor:
    """The negative ELBO (or IWAE bound) of ppgen's MLP VAE, written out by hand."""
    h = model.encoder(batch, None)
    loc = model.loc_head(h)
    scale = F.softplus(model.scale_head(h)) + 1e-4  # ppgen's MIN_SCALE floor
    eps = torch.randn((particles, *loc.shape), device=loc.device)
    z = loc + scale * eps  # (K, batch, latent)
    logits = model.decoder(z)
    log_px = -F.binary_cross_entropy_with_logits(
        logits, batch.expand_as(logits), reduction="none"
    ).sum(-1)
    log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    log_qz = (-0.5 * (eps.pow(2) + LOG_2PI) - scale.log()).sum(-1)
    log_w = log_px + log_pz - log_qz  # (K, batch)
    if iwae:
        bound = torch.logsumexp(log_w, 0) - math.log(particles)
    else:
        bound = log_w.mean(0)
    return -bound.sum()


def sbn_joint(model: SigmoidBeliefNet, batch: torch.Tensor, h: torch.Tensor, logits_q):
    """``(log p(x, h), log q(h | x))`` per sample and data point for given (possibly relaxed) h;
    Bernoulli log-masses extended to values in [0, 1] (what REBAR's relaxed runs score)."""
    log_q = -F.binary_cross_entropy_with_logits(logits_q.expand_as(h), h, reduction="none").sum(-1)
    log_prior = -F.binary_cross_entropy_with_logits(
        model.top_logits.expand_as(h), h, reduction="none"
    ).sum(-1)
    logits_x = model.decoders[0](h)
    log_px = -F.binary_cross_entropy_with_logits(
        logits_x, batch.expand_as(logits_x), reduction="none"
    ).sum(-1)
    return log_prior + log_px, log_q


def sbn_log_weights(model: SigmoidBeliefNet, batch: torch.Tensor, particles: int):
    """``log p(x, h)`` and ``log q(h | x)``, each ``(K, batch)``, for a one-layer SBN."""
    logits_q = model.encoders[0](batch)  # (batch, H)
    h = torch.bernoulli(torch.sigmoid(logits_q).detach().expand(particles, *logits_q.shape))
    return sbn_joint(model, batch, h, logits_q)


def sbn_reinforce_loss(model: SigmoidBeliefNet, batch: torch.Tensor) -> torch.Tensor:
    """REINFORCE per data point, no baseline: the gradient of ``log p + (log p - log q) log q``."""
    log_p, log_q = sbn_log_weights(model, batch, 1)
    elbo = log_p - log_q
    surrogate = log_p + elbo.detach() * log_q
    return -(surrogate + (elbo - surrogate).detach()).sum()


def sbn_vimco_loss(model: SigmoidBeliefNet, batch: torch.Tensor, particles: int) -> torch.Tensor:
    """VIMCO (Mnih & Rezende 2016): leave-one-out control variates from the geometric mean."""
    log_p, log_q = sbn_log_weights(model, batch, particles)
    log_w = log_p - log_q  # (K, batch)
    bound = torch.logsumexp(log_w, 0) - math.log(particles)
    others = (log_w.sum(0, keepdim=True) - log_w) / (particles - 1)
    replaced = log_w.expand(particles, particles, -1).clone()
    index = torch.arange(particles, device=log_w.device)
    replaced[index, index] = others
    signal = (bound - torch.logsumexp(replaced, 1) + math.log(particles)).detach()
    return -(bound + (signal * (log_q - log_q.detach())).sum(0)).sum()


# ----- issue 27: the discrete workbench's estimators on the same SBN, written out ---------------
def sbn_rloo_loss(model, batch, particles):
    log_p, log_q = sbn_log_weights(model, batch, particles)
    log_w = log_p - log_q
    signal = (log_w - (log_w.sum(0, keepdim=True) - log_w) / (particles - 1)).detach()
    elbo = log_p - log_q.detach()
    return -(elbo.mean(0) + (signal * (log_q - log_q.detach())).mean(0)).sum()


def sbn_antithetic_loss(model, batch, disarm: bool):
    """ARM (Yin & Zhou 2019) or DisARM (Dong et al. 2020) with one antithetic pair per point."""
    logits = model.encoders[0](batch)
    p = torch.sigmoid(logits).detach()
    u = torch.rand_like(p)
    h, twin = (u < p).float(), (u > 1 - p).float()
    log_p, log_q = sbn_joint(model, batch, h, logits)
    with torch.no_grad():
        twin_p, twin_q = sbn_joint(model, batch, twin, logits)
    f, f_twin = (log_p - log_q).detach(), twin_p - twin_q
    if disarm:
        coefficient = 0.5 * (f - f_twin)[:, None] * (1 - 2 * twin) * (h != twin).float()
        coefficient = coefficient * torch.sigmoid(logits.detach().abs())
    else:
        coefficient = (f_twin - f)[:, None] * (u - 0.5)
    elbo = log_p - log_q.detach()
    return -(elbo + (coefficient * (logits - logits.detach())).sum(-1)).sum()


def sbn_relaxed_loss(model, batch, temperature: float, straight_through: bool):
    """The Concrete relaxed ELBO (densities of the logit-space variable), or straight-through."""
    from torch.distributions.relaxed_bernoulli import LogitRelaxedBernoulli

    tau = torch.tensor(temperature)
    logits_q = model.encoders[0](batch)
    q = LogitRelaxedBernoulli(tau, logits=logits_q)
    logit = q.rsample()
    soft = torch.sigmoid(logit)
    h = (soft > 0.5).float() + (soft - soft.detach()) if straight_through else soft
    prior = LogitRelaxedBernoulli(tau, logits=model.top_logits.expand_as(logits_q))
    logits_x = model.decoders[0](h)
    log_px = -F.binary_cross_entropy_with_logits(logits_x, batch, reduction="none").sum(-1)
    return -(prior.log_prob(logit).sum(-1) + log_px - q.log_prob(logit).sum(-1)).sum()


def sbn_tvo_loss(model, batch, particles):
    """TVO (Masrani et al. 2019), left Riemann sum over ppgen's default log partition."""
    betas = torch.cat([torch.zeros(1), torch.logspace(-2.0, 0.0, 5)])
    log_p, log_q = sbn_log_weights(model, batch, particles)  # samples are constants
    log_w, starts, widths = log_p - log_q, betas[:-1], betas[1:] - betas[:-1]
    signal = log_w.detach()
    weights = torch.softmax(starts[:, None, None] * signal, dim=1)
    heated = log_q + starts[:, None, None] * log_w
    covariance = particles / (particles - 1) * (
        weights * (signal - (weights * signal).sum(1, keepdim=True))
        * (heated - (weights * heated).sum(1, keepdim=True))
    ).sum(1)  # fmt: skip
    per_partition = (weights * log_w).sum(1) + covariance - covariance.detach()
    return -(widths[:, None] * per_partition).sum()


def sbn_renyi_loss(model, batch, particles, alpha=0.5):
    log_p, log_q = sbn_log_weights(model, batch, particles)
    log_w = log_p - log_q
    bound = (torch.logsumexp((1 - alpha) * log_w, 0) - math.log(particles)) / (1 - alpha)
    score = log_q.sum(0)
    return -(bound + bound.detach() * (score - score.detach())).sum()


def sbn_rebar_loss(model, batch):
    """REBAR (Tucker et al. 2017) with its temperature and scale tuned on the logits' second
    moment, as ``ppgen.inference.rebar`` does; the tuned pair lives on the model here."""
    logits = model.encoders[0](batch)
    temperature, eta = model.rebar_log_temperature.exp(), model.rebar_eta
    p = torch.sigmoid(logits)
    h = torch.bernoulli(p.detach())
    q0 = (1 - p).detach()
    u = torch.where(h > 0.5, q0 + torch.rand_like(p) * (1 - q0), torch.rand_like(p) * q0)
    v = torch.rand_like(p)
    u_tilde = torch.where(h > 0.5, (1 - p) + v * p, v * (1 - p))
    z = logits + torch.logit(u.clamp(1e-6, 1 - 1e-6))
    z_tilde = logits + torch.logit(u_tilde.clamp(1e-6, 1 - 1e-6))
    log_p, log_q = sbn_joint(model, batch, h, logits)
    f = (log_p - log_q).detach()
    if not torch.is_grad_enabled():  # a value only: the ELBO
        return -f.sum()
    with pyro.validation_enabled(False):
        c = eta * torch.sub(*sbn_joint(model, batch, torch.sigmoid(z / temperature), logits))
        c_tilde = eta * torch.sub(
            *sbn_joint(model, batch, torch.sigmoid(z_tilde / temperature), logits)
        )
    score = h - p.detach()
    difference = (c - c_tilde).sum()
    (path,) = torch.autograd.grad(difference, logits, create_graph=True)
    second_moment = ((f - c_tilde)[:, None] * score + path).pow(2).sum()
    tuned = [model.rebar_log_temperature, model.rebar_eta]
    main = (log_p - log_q.detach()).sum() + ((f - c_tilde).detach()[:, None] * score
                                             * (logits - logits.detach())).sum()  # fmt: skip
    main = main + difference - difference.detach()
    variance_grads = torch.autograd.grad(second_moment, tuned, retain_graph=True)
    main_grads = torch.autograd.grad(main, tuned, retain_graph=True)
    correction = sum(((g + m) * (t - t.detach())).sum()
                     for t, g, m in zip(tuned, variance_grads, main_grads))  # fmt: skip
    return -main + correction


def sbn_with_rebar_state(seed, x):
    """The SBN with REBAR's tuned temperature and scale as parameters of the model, so that the
    hand-written loop's optimizer trains them (ppgen's estimator owns its own pair)."""
    model = sbn(seed, x)
    model.rebar_log_temperature = torch.nn.Parameter(torch.tensor(0.5).log())
    model.rebar_eta = torch.nn.Parameter(torch.tensor(1.0))
    return model


def ppca_loss(model: PPCA, batch: torch.Tensor) -> torch.Tensor:
    """PPCA's negative ELBO with its linear-Gaussian guide, one reparameterized draw."""
    tril = transform_to(constraints.lower_cholesky)(model.guide_scale_tril_unconstrained)
    noise_std = transform_to(constraints.positive)(model.noise_std_unconstrained)
    loc = batch @ model.guide_weight.T + model.guide_bias  # (batch, K)
    eps = torch.randn_like(loc)
    z = loc + eps @ tril.T
    latent_dim = z.shape[-1]
    log_q = -0.5 * (eps.pow(2).sum(-1) + latent_dim * LOG_2PI) - tril.diagonal().log().sum()
    log_pz = -0.5 * (z.pow(2).sum(-1) + latent_dim * LOG_2PI)
    residual = (batch - z @ model.W.T - model.b) / noise_std
    log_px = -0.5 * (residual.pow(2) + LOG_2PI).sum(-1) - batch.shape[-1] * noise_std.log()
    return -(log_px + log_pz - log_q).sum()


def flow_loss(model: FlowDensity, batch: torch.Tensor) -> torch.Tensor:
    """The flow's negative log-likelihood: its transformed distribution, called directly."""
    return -model.distribution().log_prob(batch).sum()


# ----- the configurations -------------------------------------------------------------------------
@dataclass
class Config:
    label: str
    data: str  # key of the data sets built in main()
    build: object  # seed, data -> model
    estimator: str
    particles: int
    hand_written: object  # model, batch -> loss


def vae(seed, x):
    torch.manual_seed(seed)
    return VAE(64, latent_dim=10, hidden_dims=(200, 200)).init_from_data(x)


def sbn(seed, x):
    torch.manual_seed(seed)
    return SigmoidBeliefNet(64, [200])


def ppca(seed, x):
    torch.manual_seed(seed)
    return PPCA(x.shape[1], 10).init_from_data(x)


class PlainPyroVAE(torch.nn.Module):
    """The same VAE as ``vae`` (same modules, same computation) written as a user's plain Pyro
    pair: ``pyro.module`` + a plate + ``to_event``, no ppgen class. ``fit`` gets ``.pair``."""

    def __init__(self, seed, x):
        super().__init__()
        self.vae = vae(seed, x)
        net = self.vae

        def model(x):
            pyro.module("decoder", net.decoder)
            with pyro.plate("data", x.shape[0]):
                z = pyro.sample("z", dist.Normal(x.new_zeros(10), 1.0).to_event(1))
                pyro.sample("x", dist.Bernoulli(logits=net.decoder(z)).to_event(1), obs=x)

        def guide(x):
            pyro.module("encoder", net.encoder)
            pyro.module("loc_head", net.loc_head)
            pyro.module("scale_head", net.scale_head)
            with pyro.plate("data", x.shape[0]):
                h = net.encoder(x, None)
                scale = F.softplus(net.scale_head(h)) + 1e-4  # ppgen's MIN_SCALE floor
                pyro.sample("z", dist.Normal(net.loc_head(h), scale).to_event(1))

        self.pair = (model, guide)


def flow(seed, x):
    torch.manual_seed(seed)
    model = FlowDensity(64, "realnvp", num_layers=4, hidden_dims=(128,), preprocess="logit")
    return model.init_from_data(x)


CONFIGS = [
    Config("VAE trace", "binary", vae, "trace", 1, lambda m, b: vae_loss(m, b, 1, False)),
    Config("VAE iwae K=1", "binary", vae, "iwae", 1, lambda m, b: vae_loss(m, b, 1, True)),
    Config("VAE iwae K=5", "binary", vae, "iwae", 5, lambda m, b: vae_loss(m, b, 5, True)),
    Config("VAE iwae K=50", "binary", vae, "iwae", 50, lambda m, b: vae_loss(m, b, 50, True)),
    Config("SBN tracegraph", "binary", sbn, "tracegraph", 1, sbn_reinforce_loss),
    Config("SBN vimco K=5", "binary", sbn, "vimco", 5, lambda m, b: sbn_vimco_loss(m, b, 5)),
    Config("PPCA trace", "levels", ppca, "trace", 1, ppca_loss),
    Config("RealNVP trace", "dequantized", flow, "trace", 1, flow_loss),
    # Issue 27: the discrete workbench on the same SBN (200 latents).
    Config("SBN rloo K=5", "binary", sbn, "rloo", 5, lambda m, b: sbn_rloo_loss(m, b, 5)),
    Config("SBN arm", "binary", sbn, "arm", 1, lambda m, b: sbn_antithetic_loss(m, b, False)),
    Config("SBN disarm", "binary", sbn, "disarm", 1, lambda m, b: sbn_antithetic_loss(m, b, True)),
    Config("SBN rebar", "binary", sbn_with_rebar_state, "rebar", 1, sbn_rebar_loss),
    Config("SBN concrete", "binary", sbn, "concrete", 1,
           lambda m, b: sbn_relaxed_loss(m, b, 0.5, False)),  # fmt: skip
    Config("SBN straight_through", "binary", sbn, "straight_through", 1,
           lambda m, b: sbn_relaxed_loss(m, b, 0.5, True)),  # fmt: skip
    Config("SBN tvo K=5", "binary", sbn, "tvo", 5, lambda m, b: sbn_tvo_loss(m, b, 5)),
    Config("SBN renyi K=5", "binary", sbn, "renyi", 5, lambda m, b: sbn_renyi_loss(m, b, 5)),
    # Issue 14: a user's own Pyro VAE through fit's defaults (compile="auto" compiles it too).
    Config(
        "Pyro VAE pair trace",
        "binary",
        PlainPyroVAE,
        "trace",
        1,
        lambda m, b: vae_loss(m.vae, b, 1, False),
    ),
]


# ----- timing -------------------------------------------------------------------------------------
def peak_memory(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else math.nan


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def time_ppgen(config, x, steps, device, compile) -> tuple[float, float]:
    """Seconds per step of ``ppgen.fit`` after the warm-up, read off its history (``wall_time``
    is the training time so far, logged with one sync every ``WARMUP`` steps), and peak MiB."""
    model = config.build(0, x)
    reset_peak(device)
    result = ppgen.fit(
        getattr(model, "pair", model),
        x,
        estimator=config.estimator,
        num_particles=config.particles,
        steps=WARMUP + steps,
        batch_size=BATCH,
        lr=LR,
        progress=False,
        log_every=WARMUP,
        device=device,
        compile=compile,
    )
    if compile == "auto" and not result.compiled:
        print(f"  note: {config.label} ran eagerly under compile='auto'")
    history = result.history
    seconds = float(history["wall_time"].iloc[-1] - history["wall_time"].iloc[0]) / steps
    return seconds, peak_memory(device)


def time_hand_written(config, x, steps, device) -> tuple[float, float]:
    model = config.build(0, x).to(device)
    x = x.to(device)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, WARMUP + steps, LR / 100)
    generator = torch.Generator(device=device).manual_seed(0)
    order = torch.randperm(len(x), generator=generator, device=device)
    position, losses = 0, []
    reset_peak(device)

    def step():
        nonlocal order, position
        if position >= len(x):
            order, position = torch.randperm(len(x), generator=generator, device=device), 0
        batch = x[order[position : position + BATCH]]
        position += BATCH
        loss = config.hand_written(model, batch) / len(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.detach())

    for _ in range(WARMUP):
        step()
    torch.stack(losses).tolist()
    losses.clear()
    start = time.perf_counter()
    for done in range(1, steps + 1):
        step()
        if done % WARMUP == 0:  # log like fit does: one sync per log row
            torch.stack(losses).tolist()
            losses.clear()
    sync(device)
    return (time.perf_counter() - start) / steps, peak_memory(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300, help="a multiple of 20")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", nargs="*", help="configuration labels to run (default: all)")
    parser.add_argument("--tag", default="", help="appended to the result files' names")
    parser.add_argument("--out", default=Path(__file__).parent / "results", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = ppgen.training.resolve_device(args.device)
    data = {
        "binary": ppgen.load_dataset("digits", binarize="threshold").train,
        "levels": ppgen.load_dataset("digits", drop_constant=True).train,
        "dequantized": ppgen.load_dataset("digits", dequantize=True).train,
    }
    configs = [c for c in CONFIGS if not args.only or c.label in args.only]

    rows = []
    for config in configs:
        x = data[config.data]
        times = {"compiled": [], "eager": [], "hand": []}
        memory = {"compiled": [], "eager": [], "hand": []}
        for _ in range(args.repeats):  # interleaved, so drifts in machine load hit all three
            runs = (
                ("compiled", time_ppgen, (config, x, args.steps, device, "auto")),
                ("eager", time_ppgen, (config, x, args.steps, device, False)),
                ("hand", time_hand_written, (config, x, args.steps, device)),
            )
            for key, run, run_args in runs:
                seconds, mib = run(*run_args)
                times[key].append(seconds)
                memory[key].append(mib)
        median = {k: statistics.median(v) for k, v in times.items()}
        row = {
            "configuration": config.label,
            "device": device.type,
            "ppgen ms/step": 1000 * median["compiled"],
            "ppgen eager ms/step": 1000 * median["eager"],
            "hand-written ms/step": 1000 * median["hand"],
            "ratio": statistics.median(p / h for p, h in zip(times["compiled"], times["hand"])),
            "ratio min": min(p / h for p, h in zip(times["compiled"], times["hand"])),
            "ratio max": max(p / h for p, h in zip(times["compiled"], times["hand"])),
            "eager ratio": statistics.median(p / h for p, h in zip(times["eager"], times["hand"])),
            "ppgen points/s": BATCH / median["compiled"],
        }
        if device.type == "cuda":
            row["ppgen peak MiB"] = max(memory["compiled"])
            row["hand-written peak MiB"] = max(memory["hand"])
        rows.append(row)
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)

    table = pd.DataFrame(rows)
    suffix = ("" if device.type == "cpu" else f"_{device.type}") + (
        f"_{args.tag}" if args.tag else ""
    )
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / f"speed_vs_pytorch{suffix}.csv", index=False)
    text = [
        "# ppgen's training step against a hand-written PyTorch loop",
        "",
        f"Command: `python benchmarks/speed_vs_pytorch.py --repeats {args.repeats} "
        f"--steps {args.steps} --threads {args.threads} --device {args.device}"
        + (f" --only {' '.join(repr(o) for o in args.only)}" if args.only else "")
        + (f" --tag {args.tag}" if args.tag else "")
        + "`",
        f"Machine: {machine(device)}.",
        "",
        f"Median milliseconds per step over {args.repeats} interleaved runs of {args.steps} steps "
        f"each (after {WARMUP} warm-up steps), digits, batch {BATCH}, Adam lr {LR} with a cosine "
        "schedule. `ppgen`: `fit` with its default compiled step; `ppgen eager`: "
        "`fit(compile=False)`. Ratios: ppgen / hand-written, the median over repeats of each "
        "repeat's ratio (min and max beside it).",
        "",
        table.to_markdown(index=False, floatfmt=".3f"),
        "",
    ]
    (args.out / f"speed_vs_pytorch{suffix}.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
