"""``compare``: train one model with several gradient estimators side by side, one row each.

Every estimator gets a copy of the same initial model, the same seed, the same data order and the
same budget in steps; the table reports what each achieved and what its gradients looked like:

- ``train_bound``: the estimator's own objective at the end of training (per data point, mean of
  the last 10% of logged steps): the ELBO for ``trace``/``tracegraph``, the K-sample bound for
  ``iwae``/``vimco``/``rws``;
- ``test_log_lik``: held-out ``log p(x)`` per data point, exact where the model can enumerate or
  integrate it, importance-sampled (``eval_samples``) otherwise (see ``test_log_lik_method``);
- ``model_variance``/``guide_variance``, ``model_snr``/``guide_snr``: gradient statistics
  (:func:`ppgen.evaluation.gradient_stats`) at each estimator's final parameters;
- ``seconds_per_step``: training wall time per step;
- ``refused``: for an estimator that fails on the program at its first call (a program it cannot
  run, though its declared needs are met), the reason, named; its other columns are empty and
  the other estimators are compared as usual. One whose declared needs the program does not meet
  is refused before any training, with the others that do not apply.

The histories (for curves against steps and wall time) ride along in ``table.attrs["histories"]``
as ``{estimator: {column: list}}``: plain data, so tables from several runs still concatenate
(pandas compares ``attrs`` when it concatenates). ``pd.DataFrame(h)`` turns one back into a table.
"""

from __future__ import annotations

import math

import pandas as pd

from ..data import Dataset
from ..inference import get_estimator
from ..models.base import GenerativeModel
from ..program.errors import ProgramError
from ..training.device import resolve_device
from ..validation import check_positive_int
from .contestants import ModelContestants as _model_contestants
from .contestants import PairContestants as _pair_contestants
from .gradients import gradient_stats


def build_estimator(spec: str, max_plate_nesting: int | None, num_particles: int | None):
    """``"name"`` or ``"name+baseline"`` (e.g. ``"tracegraph+nvil"``) -> an estimator object."""
    options = {"max_plate_nesting": max_plate_nesting}
    if num_particles is not None:
        options["num_particles"] = num_particles
    return get_estimator(spec, **options)


def compare(
    model,
    data,
    estimators=("trace", "tracegraph+nvil", "vimco", "rws"),
    *,
    steps: int = 1000,
    batch_size: int | str | None = "auto",
    lr: float | None = None,
    num_particles: int | None = None,
    seed: int = 0,
    device="auto",
    eval_samples: int = 1000,
    grad_repeats: int = 50,
    grad_batch: int = 100,
    progress: bool = True,
    test_data=None,
    **fit_options,
) -> pd.DataFrame:
    """Train ``model`` with each estimator under the same seed and budget; one row per estimator.

    Args:
        model: a :class:`~ppgen.models.GenerativeModel` (each estimator trains a clone of it) or
            a ``(model, guide)`` pair of Pyro callables (each estimator starts from the pair's
            parameters as they were when ``compare`` was called).
        data: a :class:`~ppgen.data.Dataset` (``train`` is fitted, ``val`` is logged, ``test``
            is scored), or, for a pair, the training data in any form ``fit`` takes.
        estimators: registered names, optionally with a baseline: ``"tracegraph+nvil"``. Every
            one is checked against the program first: one that does not apply (a discrete guide
            for ``iwae``...) is refused, with the reason, before any training.
        steps, batch_size, lr, seed, device, progress: as in :func:`ppgen.fit`, shared by all
            (``lr=None``: the model's own ``default_lr``).
        num_particles: particles for every estimator, or ``None`` for each one's default
            (1 for ``trace``/``tracegraph``/``iwae``, 5 for ``vimco``/``rws``).
        eval_samples: importance samples for held-out log-likelihoods that are not exact.
        grad_repeats, grad_batch: gradient estimates drawn on the first ``grad_batch`` training
            points for the variance and SNR columns.
        test_data: held-out data for a pair given plain training data (default: none, and the
            ``test_log_lik`` column says why it is empty).
        fit_options: other :func:`ppgen.fit` options (``model_args``, ``data_plate``...).

    Returns:
        The table described in the module docstring, with ``attrs["histories"]``.
    """
    check_positive_int(num_particles, "num_particles")
    for name, value in (("steps", steps), ("eval_samples", eval_samples),
                        ("grad_batch", grad_batch)):  # fmt: skip
        check_positive_int(value, name, allow_none=False)
    if isinstance(estimators, str):
        estimators = [e.strip() for e in estimators.split(",") if e.strip()]
    if not estimators:
        raise ValueError("give at least one estimator to compare")
    device = resolve_device(device)
    if isinstance(model, GenerativeModel):
        if not isinstance(data, Dataset):
            raise TypeError(
                f"data must be a ppgen Dataset (train/val/test), got {type(data).__name__}"
            )
        contestants = _model_contestants(model, data.to(device), device)
        nesting = model.max_plate_nesting
    else:
        contestants = _pair_contestants(model, data, test_data, fit_options)
        nesting = None
    # Build every estimator first, so that a typo fails before any training.
    built = {spec: build_estimator(spec, nesting, num_particles) for spec in estimators}
    contestants.check(built)
    settings = dict(
        steps=steps, batch_size=batch_size, lr=lr, seed=seed, device=device, progress=progress
    )
    rows, histories = [], {}
    for spec, estimator in built.items():
        try:
            candidate, history = contestants.train(estimator, {**settings, **fit_options})
        except ProgramError as error:  # this one cannot run the program; the others go on
            rows.append(_refused_row(spec, estimator, error))
            continue
        tail = history["loss"].iloc[-max(1, math.ceil(len(history) / 10)) :]
        test_log_lik, method = contestants.held_out(candidate, eval_samples)
        grads = gradient_stats(
            candidate,
            contestants.grad_rows(grad_batch),
            estimator,
            num_repeats=grad_repeats,
            **contestants.grad_options(),
        ).set_index("group")
        rows.append(
            {
                "estimator": spec,
                "num_particles": getattr(estimator, "num_particles", 1),
                "steps": steps,
                "train_bound": -float(tail.mean()),
                "test_log_lik": test_log_lik,
                "test_log_lik_method": method,
                "model_variance": grads.loc["model", "variance"],
                "guide_variance": grads.loc["guide", "variance"],
                "model_snr": grads.loc["model", "snr"],
                "guide_snr": grads.loc["guide", "snr"],
                "seconds_per_step": float(history["wall_time"].iloc[-1]) / steps,
                "refused": None,
            }
        )
        histories[spec] = history.to_dict("list")
    table = pd.DataFrame(rows)
    table.attrs["histories"] = histories
    return table


def _refused_row(spec: str, estimator, error: ProgramError) -> dict:
    """The row of an estimator that failed on the program at its first call (a program it
    cannot run, found before its first step): its numbers empty, its reason in ``refused``."""
    empty = ("train_bound", "test_log_lik", "model_variance", "guide_variance", "model_snr",
             "guide_snr", "seconds_per_step")  # fmt: skip
    return {
        "estimator": spec,
        "num_particles": getattr(estimator, "num_particles", 1),
        "steps": 0,
        **{column: math.nan for column in empty},
        "test_log_lik_method": "not trained",
        "refused": f"{spec}: {str(error).splitlines()[0]}",
    }
