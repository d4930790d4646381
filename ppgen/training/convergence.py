"""Whether a run has converged, and early stopping on the validation score.

**Convergence** is read off the logged curve of the objective (on validation data where there are
enough validations, else on the training batches, per data point). The run has *not* converged when
the second half of the run still improved the curve (the mean of its last tenth against the mean
of the tenth before the middle)

- by more than ``tolerance`` (default 2 %) of the curve's scale: the larger of everything the
  run gained from its first tenth to its last, and the size of its final value (so that a run
  started close to its optimum is judged against the objective, not against its small gain), and
- by more than twice the standard error of that difference (so that noise alone rarely does).

A whole half, rather than the last few steps, because learning-rate schedules flatten the end of
any curve: under ppgen's cosine schedule the last tenth of a badly under-trained run moves little.

``fit`` warns with :class:`ConvergenceWarning` and sets ``FitResult.converged``;
``fit(steps="converged")`` trains until the test passes, judged from a quarter of ``max_steps``
on and stopping at ``max_steps`` at the latest.

**Early stopping** (``fit(early_stopping=PATIENCE)``) stops once the validation score has not
improved for ``PATIENCE`` validations in a row and restores the best state seen; the best state and
the count are part of the checkpoint, so a resumed run stops at the same step.
"""

from __future__ import annotations

import math
import statistics

from ..caller_warnings import warn

#: The share of the curve's scale that its second half may still gain, for a converged run.
DEFAULT_TOLERANCE = 0.02
#: Fewest logged values in each tenth of the run for the test to be made at all.
MIN_PER_TENTH = 2


class ConvergenceWarning(UserWarning):
    """A run ended while its loss (or validation score) was still clearly improving."""


def _mean_and_variance(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    variance = statistics.variance(values) / len(values) if len(values) > 1 else 0.0
    return mean, variance


def _logged(rows: list[dict], column: str) -> list[float]:
    """The values of ``column`` in the rows that have it (a DataFrame's rows hold NaN there)."""
    values = (row.get(column) for row in rows)
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def convergence_check(rows: list[dict], column: str, tolerance=DEFAULT_TOLERANCE):
    """``(converged, detail)`` for the curve ``row[column]`` (a loss: lower is better) over the
    rows that have it; ``converged`` is ``None`` when the curve is too short to tell (fewer than
    ``10 * MIN_PER_TENTH`` values) or not finite."""
    values = _logged(rows, column)
    tenth = len(values) // 10
    if tenth < MIN_PER_TENTH or not all(math.isfinite(v) for v in values):
        return None, f"{len(values)} logged values are too few to judge convergence"
    middle = len(values) // 2
    first, _ = _mean_and_variance(values[:tenth])
    before, before_var = _mean_and_variance(values[middle - tenth : middle])
    last, last_var = _mean_and_variance(values[-tenth:])
    recent, scale = before - last, max(first - last, abs(last))
    significant = recent > 2 * math.sqrt(before_var + last_var)
    if significant and recent > tolerance * scale:
        return False, (
            f"its second half still improved it by {recent:.4g} per data point, "
            f"{recent / scale:.1%} of its scale {scale:.4g} (tolerance {tolerance:.0%})"
        )
    return True, f"its second half improved it by {recent:.4g}, within noise or tolerance"


def monitored_curve(rows: list[dict]) -> str:
    """The column convergence is judged on: the objective itself, on validation data where there
    are enough validations, else on the training batches. (Not the validation log-likelihood:
    while the guide is poor, the model may trade it for a tighter bound, and the run is still
    converging.)"""
    return "val_loss" if len(_logged(rows, "val_loss")) >= 10 * MIN_PER_TENTH else "loss"


def warn_if_not_converged(rows: list[dict], tolerance: float, hint: str) -> bool | None:
    """Judge a finished run: warn when it has not converged; returns the verdict."""
    column = monitored_curve(rows)
    converged, detail = convergence_check(rows, column, tolerance)
    if converged is False:
        warn(f"training has not converged ({column}): {detail}. {hint}", ConvergenceWarning)
    return converged


def validation_score(row: dict) -> float | None:
    """Higher is better: the validation log-likelihood, else the negated validation loss."""
    if "val_log_lik" in row:
        return row["val_log_lik"]
    if "val_loss" in row:
        return -row["val_loss"]
    return None


def early_stopping_update(best: dict | None, row: dict, step: int, weights) -> dict:
    """Early stopping's record after a validation: ``{"score", "step", "weights", "waited"}``.
    ``weights`` is called for a copy of the current weights only when they are the new best."""
    score = validation_score(row)
    if best is None or score > best["score"]:
        return {"score": score, "step": step, "weights": weights(), "waited": 0}
    return {**best, "waited": best["waited"] + 1}
