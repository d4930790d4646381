"""The reference table on scikit-learn's digits: every likelihood-based model of ppgen, one split.

Held-out NLL in nats per image on threshold-binarized digits (pixel >= 8 of 16; ppgen's split,
rows 0-999 train, 1000-1349 validation, 1350-1796 test) for

- the independent Bernoulli and a Bernoulli mixture fitted by EM (10 and 30 components),
- the sigmoid belief net (exact by enumeration), the VAE (ELBO, K = 50) and the IWAE (K = 50),
  scored by importance sampling with k = 5000 (Burda et al. 2016),
- NADE and MADE, with one ordering / mask and as an ensemble of 8 trained order-agnostically
  (exact: the ensemble is the uniform mixture of its members; its mean single member is reported
  too; the NADE ensemble's hidden layer also sees the input mask, ``mask_inputs``, as in Uria et
  al. 2014),
- DRAW (T = 8 steps of 4 latents, 3 x 3 read and 4 x 4 write attention) and a VAE with about
  as many parameters, both trained by the IWAE bound with K = 5 and scored with k = 5000,
- diffusion as a hierarchical VAE (T = 20, trained by the random-timestep estimator): its ELBO,
  a bound, from 100 draws of the full chain per image,

and in bits per dimension on uniformly dequantized digits (17 levels) for the flows (RealNVP,
MAF, NSF with RealNVP's logit pre-map) and RNADE. Every row has its number of parameters and its
fit time.

No published table exists for this split, so this one is meant to be the reference: each row is
reproducible from the command below. Every model is trained with fixed budgets (no early
stopping), Adam with ppgen's cosine schedule, batch 100.

Command: ``python benchmarks/digits_reference.py --seeds 0 1 2`` (about an hour and a half on 2
CPU cores) writes ``benchmarks/results/digits_reference.{csv,md}``; ``--only draw diffusion
--append`` adds or replaces some rows of the recorded table; ``--smoke`` checks the script.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pyro
import torch

import ppgen
from ppgen.evaluation import (
    bits_per_dim,
    elbo,
    fit_bernoulli_mixture,
    independent_bernoulli_log_lik,
    log_likelihood,
)
from ppgen.models import DRAW, MADE, NADE, RNADE, VAE, Diffusion, FlowDensity, SigmoidBeliefNet

RESULTS = Path(__file__).parent / "results"
ENSEMBLE = 8
EVAL_SAMPLES = 5000
#: ``--smoke`` scales every training budget by this (a check that the script runs, not results).
SMOKE_SCALE = 0.005
SCALE = {"steps": 1.0}


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _fit(model, data, seed, steps, lr, **options) -> float:
    """Train with ``fit``; the wall-clock seconds."""
    steps = max(2, int(steps * SCALE["steps"]))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ppgen.fit(model, data, steps=steps, lr=lr, batch_size=100, seed=seed, progress=False,
                  **options)  # fmt: skip
    return time.perf_counter() - start


def _exact(model, data, seed, steps, lr, **options) -> dict:
    seconds = _fit(model.init_from_data(data.train), data, seed, steps, lr, **options)
    with torch.no_grad():
        nll = -float(model.log_prob(data.test).mean())
    return {"test": nll, "parameters": _count(model), "seconds": seconds, "score": "exact"}


def binary_rows(data, name: str, seed: int) -> list[dict]:
    """The rows of model family ``name`` on binarized digits for one seed."""
    torch.manual_seed(seed)
    pyro.set_rng_seed(seed)
    if name == "independent":
        start = time.perf_counter()
        nll = -float(independent_bernoulli_log_lik(data.train, data.test).mean())
        seconds = time.perf_counter() - start
        return [{"model": "independent Bernoulli", "test": nll, "parameters": 64,
                 "seconds": seconds, "score": "exact"}]  # fmt: skip
    if name == "mixture":
        rows = []
        for components in (10, 30):
            start = time.perf_counter()
            mixture = fit_bernoulli_mixture(data.train, components, seed=seed)
            seconds = time.perf_counter() - start
            rows.append({"model": f"Bernoulli mixture, {components} components (EM)",
                         "test": -float(mixture.log_prob(data.test).mean()),
                         "parameters": mixture.num_parameters, "seconds": seconds,
                         "score": "exact"})  # fmt: skip
        return rows
    if name == "sbn":
        row = _exact(SigmoidBeliefNet(64, [16]), data, seed, 4000, 0.01)
        return [{"model": "SBN, 16 binary latents (trace + score function)", **row}]
    if name in ("vae", "iwae"):
        return [_vae_row(data, seed, name)]
    if name == "draw":
        return _draw_rows(data, seed)
    if name == "diffusion":
        return [_diffusion_row(data, seed)]
    return _ensemble_rows(data, name, seed)


def _draw_rows(data, seed: int) -> list[dict]:
    """DRAW and a VAE of about its size, both by the IWAE bound (K = 5), k = 5000."""
    rows = []
    for label, model in (
        ("DRAW, T=8, attention (IWAE, K=5)", DRAW(64, 8, 4, 64, image_shape=(8, 8))),
        ("VAE of DRAW's size, 32 latents (IWAE, K=5)", VAE(64, 32, [120, 120])),
    ):
        torch.manual_seed(seed)
        model.init_from_data(data.train)
        seconds = _fit(model, data, seed, 2000, 3e-3, estimator="iwae", num_particles=5)
        pyro.set_rng_seed(seed)
        with torch.no_grad():
            nll = -float(log_likelihood(model, data.test, num_samples=EVAL_SAMPLES).mean())
        score = f"importance sampling, k={EVAL_SAMPLES}"
        rows.append({"model": label, "test": nll, "parameters": _count(model),
                     "seconds": seconds, "score": score})  # fmt: skip
    return rows


def _diffusion_row(data, seed: int) -> dict:
    """Diffusion (T = 20) by the random-timestep estimator; its ELBO from 100 full chains."""
    model = Diffusion(64, steps=20, hidden_dims=(256, 256))
    seconds = _fit(model, data, seed, 10000, 1e-3, estimator="timestep")
    pyro.set_rng_seed(seed)
    with torch.no_grad():
        bound = -float(elbo(model, data.test, num_samples=100).mean())
    return {"model": "diffusion, T=20 (random-timestep estimator)", "test": bound,
            "parameters": _count(model), "seconds": seconds,
            "score": "ELBO (a bound), 100 samples"}  # fmt: skip


def _vae_row(data, seed: int, name: str) -> dict:
    """VAE or IWAE as in benchmarks/vae_digits.py: 20 latents, MLPs [100, 100], K = 50."""
    model = VAE(64, 20, [100, 100]).init_from_data(data.train)
    estimator = "trace" if name == "vae" else "iwae"
    seconds = _fit(model, data, seed, 3000, 1e-3, estimator=estimator, num_particles=50)
    with torch.no_grad():
        nll = -float(log_likelihood(model, data.test, num_samples=EVAL_SAMPLES).mean())
    label = "VAE (ELBO, K=50)" if name == "vae" else "IWAE (K=50)"
    return {"model": label, "test": nll, "parameters": _count(model), "seconds": seconds,
            "score": f"importance sampling, k={EVAL_SAMPLES}"}  # fmt: skip


def _ensemble_rows(data, name: str, seed: int) -> list[dict]:
    """NADE or MADE: one ordering/mask, and an order-agnostic ensemble of ``ENSEMBLE``."""

    def build(members):
        if name == "nade":
            return NADE(64, hidden_dim=100, num_orderings=members, ordering_seed=seed)
        return MADE(64, hidden_dims=(200,), num_masks=members, mask_seed=seed)

    label, unit = {"nade": ("NADE, H=100", "ordering"), "made": ("MADE, H=200", "mask")}[name]
    single = build(1)
    rows = [{"model": f"{label}, one {unit}", **_exact(single, data, seed, 2000, 3e-3)}]
    torch.manual_seed(seed)
    ensemble = build(ENSEMBLE)
    row = _exact(ensemble, data, seed, 2000, 3e-3)
    rows.append({"model": f"{label}, ensemble of {ENSEMBLE} (order-agnostic)", **row})
    with torch.no_grad():
        members = -ensemble.member_log_probs(data.test).mean(1)  # (K,) NLL of each member
    rows.append({"model": f"{label}, one member of the ensemble (mean of {ENSEMBLE})",
                 "test": float(members.mean()), "parameters": row["parameters"],
                 "seconds": row["seconds"], "score": "exact"})  # fmt: skip
    return rows


def continuous_rows(data, name: str, seed: int) -> list[dict]:
    """Bits per dimension on dequantized digits."""
    torch.manual_seed(seed)
    pyro.set_rng_seed(seed)
    if name == "rnade":
        model, label, lr = RNADE(64, hidden_dim=100, num_components=5), "RNADE, H=100, C=5", 3e-3
    else:
        model = FlowDensity(64, name, num_layers=4, hidden_dims=[128], preprocess="logit")
        label, lr = f"{name} flow, 4 layers, logit pre-map", 1e-3
    # Flows overfit 1000 images fast (tutorial 4): 300 steps, as there.
    steps = 300 if name != "rnade" else 2000
    row = _exact(model, data, seed, steps, lr)
    log_det = data.meta["dequantization_log_det"]
    row["test"] = bits_per_dim(-row["test"], 64, log_det)
    row["score"] = "exact, bits/dim"
    return [{"model": label, **row}]


BINARY = ("independent", "mixture", "sbn", "vae", "iwae", "nade", "made", "draw", "diffusion")
CONTINUOUS = ("realnvp", "maf", "nsf", "rnade")


def checks(table: pd.DataFrame) -> list[str]:
    """The issue's claims, per seed, as lines for the report."""
    per_seed = table.pivot(index="seed", columns="model", values="test")
    lines = []
    mixture = per_seed.get("Bernoulli mixture, 30 components (EM)")
    for label, unit in (("NADE, H=100", "ordering"), ("MADE, H=200", "mask")):
        single = per_seed.get(f"{label}, one {unit}")
        ensemble = per_seed.get(f"{label}, ensemble of {ENSEMBLE} (order-agnostic)")
        member = per_seed.get(f"{label}, one member of the ensemble (mean of {ENSEMBLE})")
        if mixture is not None and single is not None:
            wins = [int(s) for s in per_seed.index[single < mixture]]
            lines.append(f"- {label}, one {unit}, beats the 30-component mixture on seeds "
                         f"{wins} of {list(per_seed.index)}.")  # fmt: skip
        if ensemble is not None:
            wins = [int(s) for s in per_seed.index[ensemble < member]]
            lines.append(f"- {label}: the ensemble beats its single members on seeds {wins}.")
            wins = [int(s) for s in per_seed.index[ensemble < single]]
            lines.append(f"- {label}: the ensemble beats a model trained for one {unit} on "
                         f"seeds {wins}.")  # fmt: skip
    draw = per_seed.get("DRAW, T=8, attention (IWAE, K=5)")
    vae = per_seed.get("VAE of DRAW's size, 32 latents (IWAE, K=5)")
    if draw is not None and vae is not None:
        gap = (draw - vae).dropna()
        gaps = ", ".join(f"seed {int(s)}: {float(g):+.2f}" for s, g in gap.items())
        lines.append(
            f"- DRAW's test NLL minus the same-size VAE's (negative: DRAW better): {gaps}."
        )
    return lines


def report(table: pd.DataFrame, args) -> str:
    summary = table.groupby(["data", "model"], sort=False).agg(
        test_mean=("test", "mean"), test_std=("test", "std"), parameters=("parameters", "first"),
        seconds=("seconds", "mean"), score=("score", "first"),
    )  # fmt: skip
    return "\n".join([
        "# Reference table on scikit-learn's digits",
        "",
        "Commands (each row's is in the CSV's `command` column):",
        "",
        *[f"- `{command}`" for command in table["command"].unique()],
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), pyro {pyro.__version__}, Python "
        f"{platform.python_version()}.",
        "",
        "Split: rows 0-999 train, 1000-1349 validation (unused), 1350-1796 test. `binary`: test "
        "NLL in nats per image on threshold-binarized digits (lower is better). `dequantized`: "
        "bits per dimension on uniformly dequantized digits (17 levels; lower is better). "
        "`seconds`: mean fit time. Fixed budgets, no early stopping; see the script's "
        "docstring and functions for every setting.",
        "",
        *checks(table),
        "",
        "## Mean and standard deviation over seeds",
        "",
        summary.to_markdown(floatfmt=".3f"),
        "",
        "## Every run",
        "",
        table.to_markdown(index=False, floatfmt=".3f"),
        "",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="*", choices=BINARY + CONTINUOUS)
    parser.add_argument("--smoke", action="store_true", help="tiny budgets, results not written")
    parser.add_argument(
        "--append", action="store_true",
        help="add these rows to the recorded table (replacing rows of the same model and seed)",
    )  # fmt: skip
    args = parser.parse_args()
    global EVAL_SAMPLES
    if args.smoke:
        SCALE["steps"], EVAL_SAMPLES = SMOKE_SCALE, 20
    torch.set_num_threads(2)
    binary = ppgen.load_dataset("digits", binarize="threshold")
    dequantized = ppgen.load_dataset("digits", dequantize=True)
    rows = []
    for name in args.only or BINARY + CONTINUOUS:
        for seed in args.seeds:
            if name in BINARY:
                new = [{"data": "binary", **r} for r in binary_rows(binary, name, seed)]
            else:
                new = [
                    {"data": "dequantized", **r} for r in continuous_rows(dequantized, name, seed)
                ]
            rows += [{"seed": seed, **r} for r in new]
            print(pd.DataFrame(new).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    table["command"] = "python benchmarks/digits_reference.py " + " ".join(sys.argv[1:])
    if args.smoke:
        print(report(table, args))
        return
    recorded = RESULTS / "digits_reference.csv"
    if args.append and recorded.exists():
        old = pd.read_csv(recorded)
        keys = ["data", "model", "seed"]
        replaced = old.set_index(keys).index.isin(table.set_index(keys).index)
        table = pd.concat([old[~replaced], table], ignore_index=True)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(recorded, index=False)
    text = report(table, args)
    (RESULTS / "digits_reference.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
