"""What ``fit``'s defaults reach: each bundled model on its bundled data, nothing but defaults.

For every registered model, ``fit(model, data)`` with no budget, learning rate or batch size given
(the model's ``default_lr`` / ``default_steps``, ppgen's batch size and schedule), then the
held-out score and the convergence verdict (``FitResult.converged``, the test of
``ppgen/inference/convergence.py``). Where a closed-form optimum exists (PPCA and factor analysis,
by scikit-learn), the gap to it. The generator is trained by its loss, ``"mmd"``.

Command: ``python benchmarks/fit_defaults.py --seeds 0 1`` (writes
``benchmarks/results/fit_defaults.{csv,md}``).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from pathlib import Path

import pandas as pd
import pyro
import torch
from sklearn.decomposition import PCA, FactorAnalysis

from ppgen import fit, load_dataset
from ppgen.evaluation import log_likelihood
from ppgen.models import get_model

RESULTS = Path(__file__).parent / "results"

#: model name -> (data set, load options, fit options besides the defaults, sklearn reference)
CASES = {
    "ppca": ("digits", {"drop_constant": True}, {}, lambda: PCA(10)),
    "fa": ("digits", {"drop_constant": True}, {}, lambda: FactorAnalysis(10, random_state=0)),
    "bayesian_ppca": ("digits", {"drop_constant": True}, {}, None),
    "sbn": ("digits", {"binarize": "threshold"}, {}, None),
    "vae": ("digits", {"binarize": "threshold"}, {}, None),
    "flow": ("moons", {}, {}, None),
    "generator": ("ring8", {}, {"loss": "mmd"}, None),
}
LATENT = {"ppca": 10, "fa": 10, "bayesian_ppca": 10}


def held_out(model, data) -> tuple[float | None, str]:
    if model.likelihood == "implicit":
        return None, "no likelihood"
    if model.has_exact_log_prob:
        return float(model.log_prob(data.test).mean()), "exact"
    if name_has_globals(model):
        return None, "global latents (see ppgen evaluate)"
    return float(log_likelihood(model, data.test, num_samples=1000).mean()), "IS, k=1000"


def name_has_globals(model) -> bool:
    return type(model).__name__ == "BayesianPPCA"


def run_case(name: str, seed: int) -> dict:
    data_name, load_options, fit_options, reference = CASES[name]
    data = load_dataset(data_name, **load_options)
    model_class = get_model(name)
    options = {"latent_dim": LATENT[name]} if name in LATENT else {}
    options = {**model_class.options_from_data(data), **options}
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
    parser.add_argument("--only", nargs="*", help="model names (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = [run_case(n, s) for n in (args.only or CASES) for s in args.seeds]
    table = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "fit_defaults.csv", index=False)
    header = [
        "# What fit's defaults reach",
        "",
        f"Command: `python benchmarks/fit_defaults.py --seeds {' '.join(map(str, args.seeds))}`",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
        f"{torch.__version__}, pyro {pyro.__version__}, Python {platform.python_version()}.",
        "",
        "`fit(model, data)` with the model's `default_lr` and `default_steps`, batch size 128 and "
        "the cosine schedule; `converged` is `FitResult.converged` (ppgen/inference/"
        "convergence.py). Held-out log-likelihood per test point in nats.",
        "",
    ]
    text = "\n".join(header) + table.to_markdown(index=False, floatfmt=".3f") + "\n"
    (RESULTS / "fit_defaults.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
