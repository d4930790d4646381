"""Benchmark: the zoo of users' Pyro programs (``tests/zoo_pairs.py``) through ppgen, cell by cell.

Every pair x estimator is trained by ``fit`` for a few steps; ``log_likelihood`` and
``to_inference_data`` evaluate every pair. A cell is ``trained`` / ``ok``, ``refused`` (a
``ProgramError`` before any training step, with its reason), or ``ERROR`` (any other exception:
what issue 14 forbids). For every refused training cell, Pyro's own SVI runs the same program
with Pyro's counterpart of the estimator (``PYRO_COUNTERPARTS``), so the matrix says where Pyro
trains what ppgen refuses (issue 26). The matrix, the counts and every refusal's reason are
recorded.

Run:  python benchmarks/zoo_matrix.py [--steps 3]
Writes benchmarks/results/zoo_matrix.{csv,md}.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import pyro
import torch

from ppgen import fit
from ppgen.analysis import to_inference_data
from ppgen.evaluation import log_likelihood
from ppgen.program.errors import ProgramError

ESTIMATORS = [
    "trace", "meanfield", "tracegraph", "tracegraph+decaying", "tracegraph+nvil",
    "iwae", "dreg", "vimco", "rws", "enum",
    # issue 27's discrete workbench
    "rloo", "arm", "disarm", "rebar", "relax", "concrete", "straight_through", "stl", "renyi",
    "tvo",
]  # fmt: skip
PARTICLES = {"iwae": 3, "dreg": 3, "vimco": 3, "rws": 3, "rloo": 3, "renyi": 3, "tvo": 3}
#: Pyro's own objective closest to each estimator (the multi-sample ones: the K-sample bound).
PYRO_COUNTERPARTS = {
    "trace": lambda: pyro.infer.Trace_ELBO(),
    "meanfield": lambda: pyro.infer.TraceMeanField_ELBO(),
    "tracegraph": lambda: pyro.infer.TraceGraph_ELBO(),
    "tracegraph+decaying": lambda: pyro.infer.TraceGraph_ELBO(),
    "tracegraph+nvil": lambda: pyro.infer.TraceGraph_ELBO(),
    "iwae": lambda: pyro.infer.RenyiELBO(alpha=0, num_particles=3),
    "dreg": lambda: pyro.infer.RenyiELBO(alpha=0, num_particles=3),
    "vimco": lambda: pyro.infer.RenyiELBO(alpha=0, num_particles=3),
    "rws": lambda: pyro.infer.ReweightedWakeSleep(num_particles=3),
    "enum": lambda: pyro.infer.TraceEnum_ELBO(max_plate_nesting=3),
    # The ELBO estimators' counterpart is Pyro's ELBO; the relaxations have none in Pyro.
    **{name: (lambda: pyro.infer.Trace_ELBO(num_particles=3))
       for name in ("rloo", "arm", "disarm", "rebar", "relax", "stl", "tvo")},
    "concrete": lambda: pyro.infer.Trace_ELBO(),
    "straight_through": lambda: pyro.infer.Trace_ELBO(),
    "renyi": lambda: pyro.infer.RenyiELBO(alpha=0.5, num_particles=3),
}  # fmt: skip


def load_zoo():
    path = Path(__file__).parents[1] / "tests" / "zoo_pairs.py"
    spec = importlib.util.spec_from_file_location("ppgen_zoo_pairs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.ZOO


def outcome(call) -> tuple[str, str]:
    """``(status, detail)`` of one cell."""
    try:
        call()
    except ProgramError as error:
        return "refused", str(error)
    except Exception as error:  # noqa: BLE001 - the matrix records what escaped
        return "ERROR", f"{type(error).__name__}: {error}"
    return "ok", ""


def pyro_svi(pair, estimator: str) -> str:
    """Whether Pyro's own SVI takes a step on the pair with the estimator's counterpart."""
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    model, guide, data, options = pair.build()
    args = () if data is None else (data,) if isinstance(data, torch.Tensor) else ()
    args = tuple(data) if isinstance(data, tuple) else args
    kwargs = dict(data) if isinstance(data, dict) else {}
    kwargs.update(options.get("model_kwargs") or {})
    svi = pyro.infer.SVI(
        model, guide, pyro.optim.Adam({"lr": 1e-3}), PYRO_COUNTERPARTS[estimator]()
    )
    try:
        loss = svi.step(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - recorded, not raised
        return f"fails too ({type(error).__name__}: {str(error).splitlines()[0][:120]})"
    return "trains" if math.isfinite(loss) else f"non-finite loss {loss}"


def cells(pair, steps: int):
    """``(column, status, detail)`` for every estimator and both evaluations of one pair."""

    def train(estimator):
        def call():
            pyro.set_rng_seed(0)
            model, guide, data, options = pair.build()
            result = fit(
                (model, guide), data, estimator=estimator,
                num_particles=PARTICLES.get(estimator, 1), steps=steps, lr=1e-3,
                progress=False, device="cpu", **options,
            )  # fmt: skip
            if not math.isfinite(result.final_loss):
                raise RuntimeError(f"non-finite loss {result.final_loss}")

        return call

    def evaluate(function):
        def call():
            pyro.set_rng_seed(0)
            model, guide, data, options = pair.build()
            function((model, guide), data, num_samples=4, **(options.get("model_kwargs") or {}))

        return call

    for estimator in ESTIMATORS:
        status, detail = outcome(train(estimator))
        if status == "refused":
            detail = f"{detail} [Pyro's own SVI: {pyro_svi(pair, estimator)}]"
        yield estimator, status, detail
    yield ("log_likelihood", *outcome(evaluate(log_likelihood)))
    yield ("to_inference_data", *outcome(evaluate(to_inference_data)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", default=Path(__file__).parent / "results", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    records = []
    for pair in load_zoo():
        for column, status, detail in cells(pair, args.steps):
            records.append({"pair": pair.name, "source": pair.source, "column": column,
                            "status": status, "detail": detail})  # fmt: skip
            print(f"{pair.name:32s} {column:20s} {status}", flush=True)
    table = pd.DataFrame(records)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "zoo_matrix.csv", index=False)
    write_markdown(table, args, time.perf_counter() - start)


def write_markdown(table: pd.DataFrame, args, seconds: float) -> None:
    symbol = {"ok": "✓", "refused": "refused", "ERROR": "**ERROR**"}
    matrix = table.pivot(index="pair", columns="column", values="status")
    matrix = matrix[ESTIMATORS + ["log_likelihood", "to_inference_data"]]
    matrix = matrix.loc[list(dict.fromkeys(table["pair"]))].replace(symbol)
    counts = table.groupby(["column", "status"]).size().unstack(fill_value=0)
    refusals = table[table["status"] != "ok"][["pair", "column", "status", "detail"]]
    pyro_trains = refusals["detail"].str.contains("Pyro's own SVI: trains", regex=False)
    lines = [
        "# The zoo: users' Pyro programs through ppgen (issues 14 and 26)",
        "",
        f"`python benchmarks/zoo_matrix.py --steps {args.steps}`: {table['pair'].nunique()} "
        f"pairs (`tests/zoo_pairs.py`), {args.steps} training steps per cell, one CPU thread; "
        f"{seconds:.0f} s on {platform.processor() or platform.machine()}, torch "
        f"{torch.__version__}, pyro {pyro.__version__}.",
        "",
        "A cell is ✓ (trained / evaluated), *refused* (a `ProgramError` before any training "
        "step, reason below) or **ERROR** (any other exception).",
        "",
        "## Totals",
        "",
        f"- cells: {len(table)}; ✓ {int((table.status == 'ok').sum())}, refused "
        f"{int((table.status == 'refused').sum())}, ERROR {int((table.status == 'ERROR').sum())}",
        f"- refused training cells that Pyro's own SVI trains with its counterpart: "
        f"{int(pyro_trains.sum())} (each says why ppgen refuses, below)",
        "",
        counts.to_markdown(),
        "",
        "## Matrix",
        "",
        matrix.to_markdown(),
        "",
        "## Sources",
        "",
        *[f"- `{name}`: {source}" for name, source in
          table.drop_duplicates("pair")[["pair", "source"]].itertuples(index=False)],
        "",
        "## Every refusal and error, with its message",
        "",
        *[f"- `{r.pair}` × `{r.column}` ({r.status}): {_reason(r.detail)}"
          for r in refusals.itertuples()],
        "",
    ]  # fmt: skip
    (args.out / "zoo_matrix.md").write_text("\n".join(lines))


def _reason(detail: str) -> str:
    """The refusal's first line (at most 400 characters) and Pyro's outcome."""
    first, _, pyro_part = detail.partition(" [Pyro's own SVI: ")
    line = first.splitlines()[0][:400]
    return f"{line} — Pyro's own SVI: {pyro_part.rstrip(']')}" if pyro_part else line


if __name__ == "__main__":
    main()
