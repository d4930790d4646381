"""An autoregressive likelihood under a VAE: does the latent code go unused?

The same VAE (20 Gaussian latents, MLPs [100, 100], diagonal guide) on threshold-binarized digits
with two likelihoods: independent Bernoulli pixels, and a conditional MADE over the pixels that
also reads the decoder's output (``VAE(..., autoregressive_decoder=[200])``). Both are trained by
the ELBO (K = 1) and by the IWAE bound (K = 5), 3000 steps, from the same seed; scored on the test
split by the k = 1000 importance-sampled NLL, the ELBO, the average KL(q(z|x) || p(z)) (what the
code carries, in nats) and the active units (Burda et al. 2016: Cov_x(E_q[u | x]) > 0.01).

Command: ``python benchmarks/autoregressive_decoder.py --seeds 0 1 2`` (writes
``benchmarks/results/autoregressive_decoder.{csv,md}``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import pandas as pd
import pyro
import torch

import ppgen
from ppgen.evaluation import active_units, elbo, log_likelihood
from ppgen.models import VAE

RESULTS = Path(__file__).parent / "results"
DECODERS = {"independent Bernoulli": None, "autoregressive (MADE [200])": [200]}
ESTIMATORS = {"ELBO (K=1)": ("trace", 1), "IWAE (K=5)": ("iwae", 5)}


def average_kl(model, x) -> float:
    """Mean over points of KL(q(z | x) || N(0, I)), in closed form for the diagonal guide."""
    q = model.posterior(x)
    prior = torch.distributions.Normal(torch.zeros_like(q.mean), 1.0)
    return float(torch.distributions.kl_divergence(q.base_dist, prior).sum(-1).mean())


def run(data, seed: int, decoder, estimator: str, particles: int, steps: int) -> dict:
    torch.manual_seed(seed)
    pyro.set_rng_seed(seed)
    model = VAE(64, 20, [100, 100], autoregressive_decoder=decoder).init_from_data(data.train)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ppgen.fit(model, data, estimator=estimator, num_particles=particles, steps=steps,
                  lr=1e-3, batch_size=100, seed=seed, progress=False)  # fmt: skip
    seconds = time.perf_counter() - start
    test = data.test
    with torch.no_grad():
        return {
            "test NLL (k=1000)": -float(log_likelihood(model, test, num_samples=1000).mean()),
            "test -ELBO": -float(elbo(model, test, num_samples=100).mean()),
            "KL(q || p) nats": average_kl(model, test),
            "active units (of 20)": active_units(model, test),
            "parameters": sum(p.numel() for p in model.parameters()),
            "fit seconds": seconds,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = ppgen.load_dataset("digits", binarize="threshold")
    rows = []
    for seed in args.seeds:
        for decoder_name, decoder in DECODERS.items():
            for estimator_name, (estimator, particles) in ESTIMATORS.items():
                row = {"seed": seed, "likelihood": decoder_name, "training": estimator_name}
                row.update(run(data, seed, decoder, estimator, particles, args.steps))
                rows.append(row)
                print(pd.DataFrame([row]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    columns = ["test NLL (k=1000)", "test -ELBO", "KL(q || p) nats", "active units (of 20)",
               "fit seconds"]  # fmt: skip
    summary = table.groupby(["likelihood", "training"], sort=False)[columns].agg(["mean", "std"])
    summary.columns = [f"{column} {statistic}" for column, statistic in summary.columns]
    text = "\n".join([
        "# An autoregressive likelihood under a VAE: active units",
        "",
        f"Command: `python benchmarks/autoregressive_decoder.py --seeds "
        f"{' '.join(map(str, args.seeds))} --steps {args.steps}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), pyro {pyro.__version__}.",
        "",
        "VAE(64, 20, [100, 100]) on threshold-binarized digits, Adam lr 1e-3 (cosine), batch 100. "
        "NLL in nats per test image; KL averaged over the test images; active units: "
        "Cov_x(E_q[u | x]) > 0.01.",
        "",
        "## Mean and standard deviation over seeds",
        "",
        summary.to_markdown(floatfmt=".2f"),
        "",
        "## Every run",
        "",
        table.to_markdown(index=False, floatfmt=".2f"),
        "",
    ])  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "autoregressive_decoder.csv", index=False)
    (RESULTS / "autoregressive_decoder.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
