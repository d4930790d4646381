"""What ``fit``'s defaults reach: each bundled model on its bundled data, nothing but defaults.

For every registered model, ``fit(model, data)`` with no budget, learning rate or batch size given
(the model's ``default_lr`` / ``default_steps``, ppgen's batch size and schedule), then the
held-out score and the convergence verdict (``FitResult.converged``, the test of
``ppgen/training/convergence.py``). Where a closed-form optimum exists (PPCA and factor analysis,
by scikit-learn), the gap to it. The generator is trained by its loss, ``"mmd"``, and diffusion by
its own estimator, ``"timestep"`` (``"trace"`` over the whole chain costs ten times as much per
step for the same expectation; see ``benchmarks/diffusion_toy2d.py``).

Command: ``python benchmarks/fit_defaults.py --seeds 0 1`` (writes
``benchmarks/results/fit_defaults.{csv,md}``); ``--only NAME... --append`` adds or replaces those
models' rows in the recorded table, and each row records its command.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pyro
import torch
from sklearn.decomposition import PCA, FactorAnalysis

from ppgen import fit, load_dataset
from ppgen.evaluation import log_likelihood
from ppgen.models import available_models, get_model

RESULTS = Path(__file__).parent / "results"

#: Every registered model; each declares its data set, constructor and fit options
#: (``GenerativeModel.reference_setup``).
CASES = sorted(available_models())
#: Closed-form optima by scikit-learn, where they exist.
REFERENCES = {"ppca": lambda: PCA(10), "fa": lambda: FactorAnalysis(10, random_state=0)}


def held_out(model, data) -> tuple[float | None, str]:
    if model.likelihood == "implicit":
        return None, "no likelihood"
    if model.has_exact_log_prob:
        return float(model.log_prob(data.test).mean()), "exact"
    if name_has_globals(model):
        return None, "global latents (see ppgen evaluate)"
    return float(log_likelihood(model, data.test, num_samples=1000).mean()), "IS, k=1000"


def name_has_globals(model) -> bool:
    return model.marginal_model is not None and not model.has_exact_log_prob


def run_case(name: str, seed: int) -> dict:
    model_class = get_model(name)
    setup = model_class.reference_setup
    data_name, load_options = setup["data"]
    fit_options, reference = setup["fit"], REFERENCES.get(name)
    data = load_dataset(data_name, **load_options)
    options = {**model_class.options_from_data(data), **setup["model"]}
    torch.manual_seed(seed)
    pyro.set_rng_seed(seed)
    model = model_class(data.num_features, **options).init_from_data(data.train)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(model, data, seed=seed, progress=False, **fit_options)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        score, method = held_out(model, data)
    row = {
        "model": name,
        "data": data_name,
        "seed": seed,
        "lr": model.default_lr,
        "steps": int(result.history["step"].iloc[-1]),
        "test_log_lik": score,
        "method": method,
        "converged": result.converged,
        "fit_seconds": seconds,
    }
    if data.log_density is not None:  # the toys' exact density: the best any model can do
        row["true_test_log_lik"] = float(data.log_density(data.test).mean())
    if reference is not None:
        optimum = reference().fit(data.train.numpy()).score(data.test.numpy())
        row["sklearn_test_log_lik"] = optimum
        row["gap_to_sklearn"] = score - optimum
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--only", nargs="*", choices=list(CASES), help="default: all")
    parser.add_argument(
        "--append", action="store_true",
        help="add these rows to the recorded table (replacing rows of the same model and seed)",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = [run_case(n, s) for n in (args.only or CASES) for s in args.seeds]
    table = pd.DataFrame(rows)
    machine = (
        f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"pyro {pyro.__version__}, Python {platform.python_version()}"
    )
    table["command"] = "python benchmarks/fit_defaults.py " + " ".join(sys.argv[1:])
    table["machine"] = machine
    recorded = RESULTS / "fit_defaults.csv"
    if args.append and recorded.exists():
        old = pd.read_csv(recorded)
        replaced = old.set_index(["model", "seed"]).index.isin(
            table.set_index(["model", "seed"]).index
        )
        table = pd.concat([old[~replaced], table], ignore_index=True)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(recorded, index=False)
    runs = table[["command", "machine"]].drop_duplicates()
    header = [
        "# What fit's defaults reach",
        "",
        "Commands (each row's is in the CSV's `command` and `machine` columns):",
        "",
        *(f"- `{run.command}` on {run.machine}" for run in runs.itertuples()),
        "",
        "`fit(model, data)` with the model's `default_lr` and `default_steps`, batch size 128 and "
        "the cosine schedule; `converged` is `FitResult.converged` (ppgen/training/"
        "convergence.py). Held-out log-likelihood per test point in nats.",
        "",
        "",
    ]
    shown = table.drop(columns=["command", "machine"])
    text = "\n".join(header) + shown.to_markdown(index=False, floatfmt=".3f") + "\n"
    (RESULTS / "fit_defaults.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
