"""Benchmark: ppgen's training step against a hand-written PyTorch loop for the same computation.

Issue 7's reference. For each configuration, ppgen's ``fit`` (Pyro model/guide, estimator by
name) and a hand-written loop (the same ``torch.nn`` modules called directly, the loss written out
with ``torch.distributions``-free tensor code) train the same model on the same data with the same
optimizer (Adam, cosine schedule), batch size and number of steps. The two are run interleaved,
``--repeats`` times each, in one process; each run's time per step excludes its first
``WARMUP`` steps, and both log (one host sync) every ``WARMUP`` steps. Reported: the median time
per step of each and their ratio (ppgen / hand-written). One thread unless ``--threads`` says
otherwise.

So far: the VAE on binarized digits (MLP 64-200-200-10, Bernoulli pixels, diagonal Gaussian
guide) with ``trace`` and ``iwae`` at K = 1, 5, 50, batch 128. The SBN, PPCA and flow steps and
the GPU runs are still to come (issue 7).

Run:  python benchmarks/speed_vs_pytorch.py [--repeats 5] [--steps 300]
Writes benchmarks/results/speed_vs_pytorch.{csv,md}.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from pathlib import Path

import pandas as pd
import pyro
import torch
import torch.nn.functional as F

import ppgen
from ppgen.models import VAE

WARMUP = 20
BATCH = 128
LR = 1e-3
LOG_2PI = math.log(2 * math.pi)


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"pyro {pyro.__version__}, Python {platform.python_version()}"
    )


def fresh_vae(seed: int, x: torch.Tensor) -> VAE:
    torch.manual_seed(seed)
    return VAE(64, latent_dim=10, hidden_dims=(200, 200)).init_from_data(x)


def time_ppgen(x: torch.Tensor, estimator: str, particles: int, steps: int) -> float:
    """Seconds per step of ``ppgen.fit`` after the warm-up, read off its history: ``wall_time``
    is the training time so far, logged (one sync) every ``WARMUP`` steps."""
    model = fresh_vae(0, x)
    history = ppgen.fit(
        model,
        x,
        estimator=estimator,
        num_particles=particles,
        steps=WARMUP + steps,
        batch_size=BATCH,
        lr=LR,
        progress=False,
        log_every=WARMUP,
        device="cpu",
    ).history
    return float(history["wall_time"].iloc[-1] - history["wall_time"].iloc[0]) / steps


def hand_written_loss(model: VAE, batch: torch.Tensor, particles: int, iwae: bool):
    """The negative ELBO (or IWAE bound) summed over the batch, written out by hand."""
    h = model.encoder(batch, None)
    loc = model.loc_head(h)
    scale = F.softplus(model.scale_head(h)) + 1e-4  # ppgen's MIN_SCALE floor
    eps = torch.randn((particles, *loc.shape))
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


def time_hand_written(x: torch.Tensor, particles: int, iwae: bool, steps: int) -> float:
    model = fresh_vae(0, x)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, WARMUP + steps, LR / 100)
    generator = torch.Generator().manual_seed(0)
    order, position, losses = torch.randperm(len(x), generator=generator), 0, []

    def step():
        nonlocal order, position
        if position >= len(x):
            order, position = torch.randperm(len(x), generator=generator), 0
        batch = x[order[position : position + BATCH]]
        position += BATCH
        loss = hand_written_loss(model, batch, particles, iwae) / len(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.detach())

    for _ in range(WARMUP):
        step()
    start = time.perf_counter()
    for done in range(1, steps + 1):
        step()
        if done % WARMUP == 0:  # log like fit does: one sync per log row
            torch.stack(losses).tolist()
            losses.clear()
    return (time.perf_counter() - start) / steps


CONFIGS = [  # (label, ppgen estimator, particles, iwae)
    ("VAE trace", "trace", 1, False),
    ("VAE iwae K=1", "iwae", 1, True),
    ("VAE iwae K=5", "iwae", 5, True),
    ("VAE iwae K=50", "iwae", 50, True),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300, help="a multiple of 20")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=Path(__file__).parent / "results", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x = ppgen.load_dataset("digits", binarize="threshold").train

    rows = []
    for label, estimator, particles, iwae in CONFIGS:
        ppgen_times, hand_times = [], []
        for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both
            ppgen_times.append(time_ppgen(x, estimator, particles, args.steps))
            hand_times.append(time_hand_written(x, particles, iwae, args.steps))
        ratios = [p / h for p, h in zip(ppgen_times, hand_times)]
        rows.append(
            {
                "configuration": label,
                "device": "cpu",
                "batch": BATCH,
                "ppgen ms/step": 1000 * statistics.median(ppgen_times),
                "hand-written ms/step": 1000 * statistics.median(hand_times),
                "ratio (median of runs)": statistics.median(ratios),
                "ratio min": min(ratios),
                "ratio max": max(ratios),
            }
        )
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "speed_vs_pytorch.csv", index=False)
    text = [
        "# ppgen's training step against a hand-written PyTorch loop",
        "",
        f"Command: `python benchmarks/speed_vs_pytorch.py --repeats {args.repeats} "
        f"--steps {args.steps} --threads {args.threads}`",
        f"Machine: {machine()}.",
        "",
        f"Median milliseconds per step over {args.repeats} interleaved runs of {args.steps} steps "
        f"each (after {WARMUP} warm-up steps), binarized digits, batch {BATCH}, Adam lr {LR} with "
        "a cosine schedule. Ratio: ppgen / hand-written, per pair of runs.",
        "",
        table.to_markdown(index=False, floatfmt=".3f"),
        "",
    ]
    (args.out / "speed_vs_pytorch.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
