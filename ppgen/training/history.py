"""The training history: log windows, divergence, validation and the user's callback.

Per step, ``fit`` hands the loss (a device tensor) to :class:`History`; values reach the host only
on log steps, one sync for the whole window. A log step checks the window for non-finite values
(divergence), adds validation metrics and the callback's values where due, and appends one row.
"""

from __future__ import annotations

import math

import pandas as pd
import torch

from ..inference.requirements import declared_estimators
from ..program.random_state import forked_random_state
from .distributed.ranks import ONE_PROCESS, Ranks
from .distributed.sync import sum_tensor


class TrainingDivergedError(RuntimeError):
    """The loss or the parameters became NaN or infinite; ``history`` has the rows logged so far."""

    def __init__(self, message: str, step: int, history: pd.DataFrame):
        super().__init__(message)
        self.step = step
        self.history = history


def due(step: int, every: int, log_every: int) -> bool:
    """Whether a log step reaches a multiple of ``every`` (work happens on log steps only)."""
    return step // every > (step - log_every) // every


class History:
    """Rows of the history and the per-step windows since the last row. In a data-parallel run
    each rank's losses are its weighted share, and a window is summed over ranks when it closes
    (one ``all_reduce`` per log step): every rank then holds the same row."""

    def __init__(self, rows: list | None = None, ranks: Ranks = ONE_PROCESS):
        self.rows = list(rows or [])
        self.ranks = ranks
        self.window: list[torch.Tensor] = []
        self.part_windows: dict[str, list[torch.Tensor]] = {}
        self.adversary_window: list[torch.Tensor] = []

    def record(self, value: torch.Tensor, parts: dict, normalizer: float) -> None:
        """One model step's loss per data point and its composed terms (device tensors)."""
        self.window.append(value.detach())
        for name, part in parts.items():
            self.part_windows.setdefault(name, []).append(part / normalizer)

    def record_adversary(self, value: torch.Tensor) -> None:
        self.adversary_window.append(value.detach())

    def close_window(self) -> tuple[dict, tuple[int, str] | None]:
        """``(row, problem)``: the window's means, and ``None`` or ``(offset, reason)`` for its
        first non-finite value, ``offset`` being that model step's place in the window."""
        losses = sum_tensor(self.ranks, torch.stack(self.window)).tolist()
        self.window = []
        bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
        if bad:
            return {}, (bad[0], f"the loss became {losses[bad[0]]}")
        row = {"loss": sum(losses) / len(losses)}
        for name, values in self.part_windows.items():
            row[f"loss/{name}"] = float(sum_tensor(self.ranks, torch.stack(values)).mean())
        self.part_windows = {}
        if self.adversary_window:
            adversary = sum_tensor(self.ranks, torch.stack(self.adversary_window)).tolist()
            per_step = len(adversary) // len(losses)  # the adversary's steps per model step
            self.adversary_window = []
            bad = [i for i, v in enumerate(adversary) if not math.isfinite(v)]
            if bad:
                return {}, (bad[0] // per_step, "the adversary's loss became non-finite")
            row["adversary_loss"] = sum(adversary) / len(adversary)
        return row, None

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def estimator_values(objective) -> dict:
    """``estimator/<key>`` columns from the estimators inside the objective that log values
    (:meth:`ppgen.inference.estimator.Estimator.log_values`)."""
    row = {}
    for estimator in declared_estimators(objective):
        row.update({f"estimator/{k}": float(v) for k, v in estimator.log_values().items()})
    return row


def run_callback(callback, step: int, model) -> dict:
    """The user's callback, without gradients and with the random state forked, so that it never
    changes the training trajectory. Its values must be numbers (they go into the history and
    the checkpoint); 0-d tensors and NumPy scalars count as numbers."""
    with torch.no_grad(), forked_random_state():
        values = callback(step, model) or {}
    if not isinstance(values, dict):
        raise TypeError(f"the callback must return a dict or None, got {type(values).__name__}")
    row = {}
    for key, value in values.items():
        try:
            row[str(key)] = float(value) if not isinstance(value, (str, bool)) else value
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"the callback's value {key!r} must be a number or a string, got "
                f"{type(value).__name__}"
            ) from None
    return row


class Validator:
    """Validation metrics on held-out data: the objective per data point, and the exact
    log-likelihood where the model has one. Runs in chunks, without gradients, with the random
    state forked (validation never perturbs training). In a data-parallel run each rank scores
    its share of the rows and the sums are added over ranks."""

    #: Rows per chunk, so that memory stays bounded.
    CHUNK = 4096

    def __init__(self, objective, model_fn, guide_fn, spec, exact_log_prob=None, ranks=ONE_PROCESS):
        self.objective, self.model_fn, self.guide_fn = objective, model_fn, guide_fn
        self.spec = spec  # a DataSpec of the validation rows
        self.exact_log_prob = exact_log_prob  # x -> (rows,), or None
        self.ranks = ranks
        offset, length = ranks.part(spec.num_rows)
        self.rows = range(offset, offset + length)  # this rank's share

    def __call__(self) -> dict:
        with torch.no_grad(), forked_random_state():
            first = self.spec.first
            total = first.new_zeros((), dtype=torch.float64)
            for args, kwargs in self.spec.chunks(self.CHUNK, self.rows):
                total += self.objective(self.model_fn, self.guide_fn, *args, **kwargs).double()
            metrics = {"val_loss": float(sum_tensor(self.ranks, total)) / self.spec.num_rows}
            if self.exact_log_prob is not None:
                # A fresh view: Pyro's transform caches match inputs by identity, and the
                # parameters changed since the last call on this tensor.
                x = first[self.rows.start : self.rows.stop]
                log_lik = total.new_zeros(())
                if len(x):  # a rank may have no rows of a tiny validation set
                    log_lik = self.exact_log_prob(x.view_as(x)).double().sum()
                metrics["val_log_lik"] = float(sum_tensor(self.ranks, log_lik)) / self.spec.num_rows
        return metrics
