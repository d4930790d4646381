"""Benchmark: LOO model selection over PPCA latent dimensions, and PSIS k̂ of PPCA's guide.

Data: ``linear_gaussian`` (1000 training points in 10 dimensions, true latent dimension 3, noise
sd 0.5). Two parts, each over the seeds given:

1. **Model selection.** ``BayesianPPCA`` with latent dimension 1..6 (priors on W and the noise,
   mean-field guide), fitted full-batch by SVI; ``to_inference_data`` with 500 guide draws stores
   the marginal pointwise log-likelihood (float64); arviz-stats' ``compare`` ranks the six by
   PSIS-LOO. The target: dimension 3 or above first, 1 and 2 clearly worse.
2. **PSIS k̂ of the guide.** A point-estimated ``PPCA(10, 3)`` fitted full-batch (its guide
   family contains the exact posterior), then the same guide with its scale cut to 0.3x; k̂ per
   data point from 1000 draws. Targets: below 0.5 at the optimum, above 0.7 for the narrow guide.
   The Bayesian PPCA's own joint and global k̂ are recorded too.

Run:  python benchmarks/ppca_model_selection_arviz.py [--seeds 0 1 2]
Writes benchmarks/results/ppca_model_selection_arviz.{csv,md} (model selection) and
benchmarks/results/ppca_guide_khat.csv (k̂). Where the results of the ArviZ 0.23 version of this
benchmark lie beside them (``*_0.23.csv``), the report compares the two: elpd per model and seed,
the difference in units of its standard error, and the k̂ values.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import arviz_stats
import pandas as pd
import pyro
import torch

import ppgen
from ppgen.analysis import compare_models, psis_diagnostics, to_inference_data
from ppgen.models import PPCA, BayesianPPCA

LATENT_DIMS = (1, 2, 3, 4, 5, 6)
STEPS, LR, DRAWS, KHAT_DRAWS = 1500, 0.02, 500, 1000


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"pyro {pyro.__version__}, arviz-stats {arviz_stats.__version__}, "
        f"Python {platform.python_version()}"
    )


def fit(model, data, seed, steps=STEPS):
    start = time.perf_counter()
    ppgen.fit(model, data.train, steps=steps, batch_size=None, lr=LR, seed=seed, progress=False)
    return time.perf_counter() - start


def model_selection(data, seed) -> tuple[pd.DataFrame, dict]:
    models, seconds, bayesian = {}, {}, {}
    for latent_dim in LATENT_DIMS:
        torch.manual_seed(seed)
        model = BayesianPPCA(10, latent_dim).init_from_data(data.train)
        seconds[f"k={latent_dim}"] = fit(model, data, seed)
        pyro.set_rng_seed(seed)
        models[f"k={latent_dim}"] = to_inference_data(model, data.train, num_samples=DRAWS)
        bayesian[latent_dim] = models[f"k={latent_dim}"]
    table = compare_models(models)[["rank", "elpd", "p", "elpd_diff", "se", "dse"]]
    table = table.rename_axis("model").reset_index()
    table["noise_std_mean"] = [
        float(models[name].posterior["noise_std"].mean()) for name in table["model"]
    ]
    table["fit_seconds"] = [seconds[name] for name in table["model"]]
    table.insert(0, "seed", seed)
    return table, bayesian


def guide_khat(data, seed, bayesian_idata) -> list[dict]:
    torch.manual_seed(seed)
    ppca = PPCA(10, 3).init_from_data(data.train)
    fit(ppca, data, seed, steps=2 * STEPS)
    narrow = ppca.clone()
    with torch.no_grad():
        narrow.guide_scale_tril = narrow.guide_scale_tril * 0.3
    rows = []
    for name, model in (("PPCA(3), fitted guide", ppca), ("PPCA(3), guide scale x 0.3", narrow)):
        pyro.set_rng_seed(seed)
        summary = psis_diagnostics(to_inference_data(model, data.train, num_samples=KHAT_DRAWS))
        rows.append({"seed": seed, "guide": name, **summary.summary().to_dict()})
    pyro.set_rng_seed(seed)
    summary = psis_diagnostics(bayesian_idata).summary().to_dict()
    rows.append({"seed": seed, "guide": "BayesianPPCA(3), mean-field", **summary})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default=Path(__file__).parent / "results", type=Path)
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from the recorded CSVs"
    )
    args = parser.parse_args()
    selection_csv = args.out / "ppca_model_selection_arviz.csv"
    khat_csv = args.out / "ppca_guide_khat.csv"
    if args.report_only:
        selection, khat = pd.read_csv(selection_csv), pd.read_csv(khat_csv)
        args.seeds = sorted(selection["seed"].unique())
    else:
        selection, khat = run(args.seeds)
        args.out.mkdir(parents=True, exist_ok=True)
        selection.to_csv(selection_csv, index=False)
        khat.to_csv(khat_csv, index=False)
    (args.out / "ppca_model_selection_arviz.md").write_text(report(args, selection, khat))


def run(seeds) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = ppgen.load_dataset("linear_gaussian")
    selections, khats = [], []
    for seed in seeds:
        table, bayesian = model_selection(data, seed)
        print(table.to_string(index=False), flush=True)
        selections.append(table)
        khats.extend(guide_khat(data, seed, bayesian[3]))
        print(pd.DataFrame(khats[-3:]).to_string(index=False), flush=True)
    return pd.concat(selections, ignore_index=True), pd.DataFrame(khats)


def checks(selection: pd.DataFrame, khat: pd.DataFrame) -> list[str]:
    """The conclusions the benchmark stands for, checked on its numbers."""
    top_four = selection[selection["rank"] < 4].groupby("seed")["model"].apply(list)
    dims_ok = all(int(name[2:]) >= 3 for names in top_four for name in names)
    fitted = khat[khat["guide"] == "PPCA(3), fitted guide"]
    narrow = khat[khat["guide"] == "PPCA(3), guide scale x 0.3"]
    return [
        "## Checks",
        "",
        f"- Ranks 1-4 are latent dimensions >= 3 on every seed: **{dims_ok}** "
        f"({'; '.join(f'seed {seed}: {names}' for seed, names in top_four.items())}).",
        f"- The fitted exact-family guide's k̂ per data point is below 0.5 on every seed: "
        f"**{bool((fitted['max_khat'] < 0.5).all())}** (largest {fitted['max_khat'].max():.3f}).",
        f"- The too-narrow guide's mean k̂ per data point is above 0.7 on every seed: "
        f"**{bool((narrow['mean_khat'] > 0.7).all())}** (smallest {narrow['mean_khat'].min():.3f};"
        f" worst point at least {narrow['max_khat'].min():.3f}).",
        "",
    ]


def report(args, selection: pd.DataFrame, khat: pd.DataFrame) -> str:
    khat_columns = ["seed", "guide", "max_khat", "mean_khat", "fraction_good", "joint_khat"]
    khat_columns += ["fraction_bad", "fraction_very_bad", "global_khat"]
    text = [
        "# LOO model selection over PPCA latent dimensions, and PSIS k̂ of the guide",
        "",
        f"Command: `python benchmarks/ppca_model_selection_arviz.py --seeds "
        f"{' '.join(map(str, args.seeds))}`",
        f"Machine: {machine()}.",
        "",
        "## arviz-stats' compare over BayesianPPCA, latent dimension 1..6",
        "",
        f"`linear_gaussian` (1000 points, 10 dimensions, true latent dimension 3, noise sd 0.5). "
        f"Full-batch SVI, {STEPS} steps, Adam lr {LR}; {DRAWS} guide draws; pointwise "
        "log-likelihood marginal over z. `elpd_diff` and `dse`: each model's elpd minus the best "
        "one's (<= 0) and its standard error.",
        "",
        selection.to_markdown(index=False, floatfmt=".2f"),
        "",
        "## PSIS k̂ of the guide",
        "",
        f"{KHAT_DRAWS} draws (500 for the Bayesian PPCA, from part 1); k̂ per data point (PPCA) "
        "and of the joint weights; `global_khat`: q(W, sigma) against p(W, sigma | x) with z "
        "integrated out. Thresholds: 0.5 good, 0.7 bad, 1 very bad.",
        "",
        khat[[c for c in khat_columns if c in khat]].to_markdown(index=False, floatfmt=".3f"),
        "",
        *checks(selection, khat),
        *against_arviz_023(args.out, selection, khat),
    ]
    return "\n".join(text)


def against_arviz_023(folder: Path, selection: pd.DataFrame, khat: pd.DataFrame) -> list[str]:
    """The report's section comparing these results with the ArviZ 0.23 run's, where recorded."""
    old_path = folder / "ppca_model_selection_arviz_0.23.csv"
    if not old_path.is_file():
        return []
    old = pd.read_csv(old_path).rename(columns={"elpd_loo": "elpd", "p_loo": "p"})
    both = selection.merge(old, on=["seed", "model"], suffixes=("", "_0.23"))
    both["elpd_change"] = both["elpd"] - both["elpd_0.23"]
    both["change_in_se"] = both["elpd_change"] / both["se"]
    both["same_rank"] = both["rank"] == both["rank_0.23"]
    old_khat = pd.read_csv(folder / "ppca_guide_khat_0.23.csv")
    khats = khat.merge(old_khat, on=["seed", "guide"], suffixes=("", "_0.23"))
    columns = ["seed", "guide", "max_khat", "max_khat_0.23", "joint_khat", "joint_khat_0.23"]
    columns += ["global_khat", "global_khat_0.23"]
    return [
        "## Against the ArviZ 0.23 results",
        "",
        "The same seeds, steps and draws under ArviZ 0.23 (`ppca_model_selection_arviz_0.23.*`, "
        "`az.compare`, float32 log-likelihoods). `elpd_change`: elpd now minus then; "
        "`change_in_se`: that change over the model's elpd standard error.",
        "",
        both[["seed", "model", "elpd", "elpd_0.23", "elpd_change", "change_in_se", "p", "p_0.23"]]
        .assign(same_rank=both["same_rank"])
        .to_markdown(index=False, floatfmt=".3f"),
        "",
        khats[[c for c in columns if c in khats]].to_markdown(index=False, floatfmt=".3f"),
        "",
    ]


if __name__ == "__main__":
    main()
