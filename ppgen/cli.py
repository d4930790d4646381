"""The ``ppgen`` command line: ``list``, ``fit``, ``evaluate``, ``analyze``, ``compare`` and
``demo``, thin over the library."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the CLI writes figures to files; never needs a display


#: Suffixes of the data files ``--data`` takes (see ppgen/data/files.py), besides data-set names.
DATA_FILE_SUFFIXES = (".npy", ".npz", ".pt", ".csv")


def count(minimum: int):
    """An argparse type: an int of at least ``minimum``, refused in one line otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an int") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    parse.__name__ = f"int >= {minimum}"  # argparse names the type in its message
    return parse


def _label(name: str) -> str:
    """A run-folder-friendly label: a file model's class name, a data file's stem."""
    if ":" in name:  # path/to/models.py:MyModel
        name = name.rpartition(":")[2]
    return Path(name).stem


def _parse_options(pairs: list[str]) -> dict:
    """``["key=value", ...]`` -> dict, values read as Python literals where they parse."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option and --data-option expect KEY=VALUE, got {pair!r}")
        try:
            options[key.replace("-", "_")] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key.replace("-", "_")] = value
    return options


def cmd_list(args) -> None:
    from .catalogue import HEADINGS, catalogue

    listing = catalogue()
    for section, heading in HEADINGS.items():
        print(heading)
        for name, description in listing[section].items():
            print(f"  {name:16s} {description}")
    print("your own: path/to/models.py:MyModel as a model, a .npy/.npz/.pt/.csv file as data")


def cmd_fit(args) -> None:
    import torch

    from .models import get_model
    from .models.lookup import is_file_spec
    from .registry import PRESETS
    from .runs.config import RunConfig
    from .runs.folder import open_shared_run_dir
    from .training.distributed import init_from_environment

    ranks = init_from_environment()  # under torchrun: one of its processes
    model_name, loss = args.model, args.loss
    if model_name in PRESETS:
        preset = PRESETS.get(model_name)
        model_name, loss = preset.model, loss or preset.loss
    if loss is not None and args.estimator != "trace":
        raise ValueError("give --estimator or --loss, not both")
    model_class = get_model(model_name)
    if is_file_spec(model_name):  # recorded absolute, so that evaluate/analyze find it
        path, _, attribute = model_name.rpartition(":")
        model_name = f"{Path(path).resolve()}:{attribute}"
    model_options = _parse_options(args.option)
    if args.latent_dim is not None:
        model_options["latent_dim"] = args.latent_dim
    data, data_options, binarize, data_name = _load_for_model(args, model_class, model_options)
    model_options = {**model_class.options_from_data(data), **model_options}
    config = RunConfig(
        model=model_name,
        preset=args.model if args.model != model_name else None,
        model_options=model_options,
        data=data_name,
        data_options=data_options,
        binarize=binarize,
        dequantize=args.dequantize,
        drop_constant=args.drop_constant,
        seed=args.seed,
        data_seed=data_seed(args),
        estimator=args.estimator if loss is None else None,
        loss=loss,
        num_particles=args.num_particles,
        lr=args.lr,
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
    )
    torch.manual_seed(args.seed)
    model = model_class(data.num_features, **model_options).init_from_data(data.train)
    label = f"{_label(args.model)}-{_label(args.data)}"
    with open_shared_run_dir(args.out, label, config.to_json(), args.checkpoint, ranks) as run_dir:
        _fit_into(run_dir, model, data, config, args, ranks)


def _fit_into(run_dir: Path, model, data, config, args, ranks) -> None:
    """Train (resuming from ``run_dir``'s checkpoint where there is one), then write the model,
    the history, the scores and the figures. Under ``torchrun`` every process trains its part;
    rank 0 then leaves the group, scores and writes alone, and the others are done."""
    import torch.distributed as dist

    from .runs.figures import write_figures
    from .runs.folder import CHECKPOINT, save_model
    from .runs.scoring import score_model
    from .runs.tables import write_table
    from .training import fit

    result = fit(
        model,
        data,
        **config.fit_options(),
        device=args.device,
        progress=not args.no_progress,
        checkpoint=run_dir / CHECKPOINT if args.checkpoint else None,
    )
    if not ranks.is_main:
        return
    if ranks.active:
        dist.destroy_process_group()  # scoring below runs on rank 0 alone
    result.history.to_csv(run_dir / "history.csv", index=False)
    save_model(run_dir, model, config.to_json())
    data = data.to(result.device)
    metrics = score_model(model, data, log_lik_samples=args.eval_samples)
    write_table(metrics, run_dir / "metrics")
    write_figures(model, data, run_dir, result.history)
    print(metrics.to_string(index=False))
    print(f"run written to {run_dir}")


def cmd_evaluate(args) -> None:
    import pyro

    from .runs.folder import load_run
    from .runs.scoring import score_model
    from .runs.tables import write_table
    from .training import resolve_device

    model, data, config = load_run(
        args.run_dir, resolve_device(args.device), trust_code=args.trust_model_code
    )
    pyro.set_rng_seed(args.seed)
    metrics = score_model(model, data, log_lik_samples=args.num_samples)
    write_table(metrics, Path(args.run_dir) / "evaluation")
    print(f"{config['model']} on {config['data']} ({args.run_dir}):")
    print(metrics.to_string(index=False))


def cmd_analyze(args) -> None:
    import pyro

    from .analysis.diagnostics import MIN_PSIS_DRAWS
    from .runs.analyze import analyze_run
    from .training import resolve_device

    if args.num_samples < MIN_PSIS_DRAWS:
        raise ValueError(
            f"--num-samples {args.num_samples}: the analysis needs at least {MIN_PSIS_DRAWS} guide "
            "draws (PSIS k̂ fits a Pareto tail of 5 to the largest ones)"
        )
    resolved = [Path(run_dir).resolve() for run_dir in args.run_dirs]
    repeated = sorted({str(p) for p in resolved if resolved.count(p) > 1})
    if repeated:
        raise ValueError(f"run folder(s) given more than once: {', '.join(repeated)}")
    if args.out and len(args.run_dirs) < 2:
        raise ValueError(
            "--out is where the joint analysis of several runs goes; give two runs or more"
        )
    analyses = {}
    for run_dir in args.run_dirs:
        pyro.set_rng_seed(args.seed)
        analysis = analyze_run(
            run_dir,
            args.split,
            args.num_samples,
            resolve_device(args.device),
            trust_code=args.trust_model_code,
        )
        # By folder name; by the path given where two runs share a name under other parents.
        label = Path(run_dir).name
        analyses[label if label not in analyses else str(run_dir)] = analysis
        print(f"{run_dir}: wrote {analysis['out']}")
        print(analysis["psis"].summary().to_string())
        if analysis["loo"] is not None:
            print(analysis["loo"].to_string(float_format="%.2f"))
        else:
            print(f"LOO skipped: {analysis['loo_skipped']}")
    if len(analyses) > 1:
        _analyze_together(args, analyses)


def _analyze_together(args, analyses: dict) -> None:
    """Several runs: as chains when they share model and data, else compared."""
    import pyro

    from .runs.analyze import compare_runs
    from .runs.analyze_chains import analyze_runs_as_chains, runs_share_model_and_data
    from .runs.folder import open_run_dir
    from .runs.tables import write_table
    from .training import resolve_device

    loaded = [(a["model"], a["data"], a["config"]) for a in analyses.values()]
    different = runs_share_model_and_data(loaded, args.split)
    with open_run_dir(args.out, "analysis") as out:
        if different is None:
            pyro.set_rng_seed(args.seed)
            chains = analyze_runs_as_chains(
                loaded, args.run_dirs, out, args.split, args.num_samples,
                resolve_device(args.device),
            )  # fmt: skip
            print(f"{len(loaded)} runs of one model on the same data, as chains:")
            print(chains["agreement"].to_string(float_format="%.3f"))
        else:
            print(f"runs compared, not taken as chains: {different}")
            table = compare_runs(analyses, args.split)
            write_table(table, out / "comparison")
            print(table.to_string(index=False))
    print(f"joint analysis written to {out}")


def _load_for_model(args, model_class, model_options=None):
    """Load ``args.data``; Bernoulli models get ``binarize="threshold"`` on quantized images (a
    data set's declared ``quantized_image``) unless told otherwise."""
    from .data import load_dataset
    from .registry import DATASETS

    data_options = _parse_options(args.data_option)
    if args.data_path:
        data_options["path"] = args.data_path
    name = args.data
    if Path(name).suffix in DATA_FILE_SUFFIXES:  # a user's file: the "file" data set
        data_options["path"] = str(Path(name).resolve())
        name = "file"
    binarize = args.binarize
    likelihood = (model_options or {}).get("likelihood", model_class.likelihood)
    quantized = DATASETS.entry(name).extra.get("quantized_image", False)
    if binarize is None and likelihood == "bernoulli" and quantized:
        binarize = "threshold"
        print(f"{args.data}: binarize='threshold' for the Bernoulli likelihood of {args.model}")
    data = load_dataset(
        name,
        binarize=binarize,
        dequantize=args.dequantize,
        drop_constant=args.drop_constant,
        seed=data_seed(args),
        **data_options,
    )
    return data, data_options, binarize, name


def data_seed(args) -> int:
    """The seed of the data (synthetic draws, binarization, dequantization): ``--data-seed``
    where given, so that runs of several training seeds share one data set; else ``--seed``."""
    chosen = getattr(args, "data_seed", None)
    return args.seed if chosen is None else chosen


def cmd_compare(args) -> None:
    import pandas as pd
    import torch

    from .evaluation import compare
    from .models import get_model
    from .plots import plot_comparison
    from .runs.folder import open_run_dir
    from .runs.tables import save_figure, write_table

    model_class = get_model(args.model)
    options = _parse_options(args.option)
    data, *_ = _load_for_model(args, model_class, options)
    torch.manual_seed(args.seed)
    model = model_class(data.num_features, **{**model_class.options_from_data(data), **options})
    model.init_from_data(data.train)
    label = f"compare-{_label(args.model)}-{_label(args.data)}"
    with open_run_dir(args.out, label) as run_dir:
        table = compare(
            model,
            data,
            args.estimators,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            num_particles=args.num_particles,
            seed=args.seed,
            device=args.device,
            progress=not args.no_progress,
        )
        write_table(table, run_dir / "comparison")
        for name, history in table.attrs["histories"].items():
            pd.DataFrame(history).to_csv(run_dir / f"history_{name}.csv", index=False)
        save_figure(plot_comparison(table), run_dir / "comparison.png")
    print(table.drop(columns=["test_log_lik_method"]).to_string(index=False))
    print(f"comparison written to {run_dir}")


def cmd_demo(args) -> None:
    from .demo import run_demo

    run_dir = run_demo(out=args.out, quick=args.quick, progress=not args.no_progress)
    print(f"demo report: {run_dir / 'report.md'}")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (``ppgen fit: error: ...``), not usage + error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ppgen", description="Deep generative models as Pyro model/guide pairs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="models, estimators and data sets").set_defaults(func=cmd_list)
    _add_fit(sub)
    _add_evaluate_and_analyze(sub)
    _add_compare(sub)
    p = sub.add_parser("demo", help="the main job on bundled data, with a report")
    p.add_argument("--out", help="run folder (default runs/demo-TIME)")
    p.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)
    return parser


def _add_fit(sub) -> None:
    p = sub.add_parser("fit", help="fit a model to a data set and write a run folder")
    p.add_argument(
        "model",
        help="a model or preset name from `ppgen list` (gmmn, gan...), or your own "
        "GenerativeModel class as path/to/models.py:MyModel",
    )
    p.add_argument(
        "--data",
        required=True,
        help="a data-set name from `ppgen list`, or your rows in a .npy/.npz/.pt/.csv file",
    )
    p.add_argument("--data-path", help="local path for data sets read from disk (mnist)")
    p.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--binarize", choices=["threshold", "fixed", "dynamic"])
    p.add_argument("--dequantize", action="store_true")
    p.add_argument("--drop-constant", action="store_true", help="drop constant columns")
    p.add_argument("--latent-dim", type=int)
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="other model constructor options, e.g. --option hidden=[64,32]",
    )
    p.add_argument("--estimator", default="trace")
    p.add_argument("--loss", help="a custom loss from `ppgen list` instead of an estimator")
    p.add_argument(
        "--num-particles", type=int, help="per data point (default: the estimator's own)"
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int)
    budget.add_argument("--epochs", type=int)
    p.add_argument(
        "--batch-size",
        type=int,
        default=128,
        help="rows per step (per process under torchrun); 0: all",
    )
    p.add_argument("--lr", type=float, help="learning rate (default: the model's own)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--data-seed",
        type=int,
        help="seed of the data alone (default: --seed); runs of several --seed values on one "
        "--data-seed share the data, and `ppgen analyze` takes them as chains",
    )
    p.add_argument(
        "--checkpoint",
        action="store_true",
        help="checkpoint in --out; re-running the same command resumes from it",
    )
    p.add_argument(
        "--eval-samples",
        type=count(0),
        default=5000,
        help="importance samples for log p(x) where it is not exact (0 skips it)",
    )
    p.add_argument("--out", help="run folder (default runs/MODEL-DATA-TIME)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_fit)


TRUST_HELP = "load a model class from the Python file config.json names (runs that file)"


def _add_evaluate_and_analyze(sub) -> None:
    p = sub.add_parser("evaluate", help="re-score a saved run folder (writes evaluation.csv/md)")
    p.add_argument("run_dir", help="a folder written by `ppgen fit`")
    p.add_argument(
        "--num-samples", type=count(1), default=5000, help="importance samples for log p(x)"
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trust-model-code", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "analyze",
        help="ArviZ analysis of saved runs: DataTree, summary, PSIS k̂, LOO, figures; runs of one "
        "model on the same data as chains (R-hat across runs)",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folders written by `ppgen fit`")
    p.add_argument(
        "--split",
        default="train",
        choices=["train", "val", "test"],
        help="data to analyse (LOO only on train, the points the posterior was fitted to)",
    )
    p.add_argument("--num-samples", type=int, default=500, help="guide draws (ArviZ's draws)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out", help="folder for the joint analysis of several runs (chains, or a comparison)"
    )
    p.add_argument("--trust-model-code", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=cmd_analyze)


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="train one model with several estimators, side by side")
    p.add_argument(
        "--model", required=True, help="a model name from `ppgen list`, or path/models.py:Class"
    )
    p.add_argument(
        "--estimators",
        default="trace,tracegraph+nvil,vimco,rws",
        help="comma-separated; NAME+BASELINE picks a tracegraph baseline",
    )
    p.add_argument("--data", required=True)
    p.add_argument("--data-path")
    p.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--binarize", choices=["threshold", "fixed", "dynamic"])
    p.add_argument("--dequantize", action="store_true")
    p.add_argument("--drop-constant", action="store_true")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model constructor options, e.g. --option hidden=[8]",
    )
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--num-particles", type=int, help="for every estimator (default: each own)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default runs/compare-MODEL-DATA-TIME)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_compare)


def _is_user_error(error: BaseException) -> bool:
    """Bad input, a file that cannot be read or written, or a run that diverged: the user's to
    fix, reported in one line. Anything else is a bug in ppgen and keeps its traceback."""
    if isinstance(error, (ValueError, TypeError, OSError)):
        return True
    history = sys.modules.get("ppgen.training.history")  # loaded if training ran
    return history is not None and isinstance(error, history.TrainingDivergedError)


def main(argv: list[str] | None = None) -> int:
    """Run a command; a user's error is one line on stderr and exit status 2, never a
    traceback (:func:`_is_user_error`)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a usage error already printed
        return int(done.code or 0)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("ppgen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ppgen list | head`: the reader left; nothing to report
        sys.stdout = None  # no flush of a closed pipe at exit
        return 0
    except Exception as error:
        if not _is_user_error(error):
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"ppgen: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
