"""Whether a run has converged, and early stopping on the validation score.

**Convergence** is read off the logged curve (the validation log-likelihood or loss where there
are enough validations, else the training loss per data point). Learning-rate schedules make the
plain slope misleading: a cosine schedule flattens any curve at its end, converged or not. So the
test measures progress *per unit of learning rate* (the sum of the rates over the steps between):
the run has *not* converged when, between the last two tenths of the run, the curve improved

- by more than twice the standard error of the difference of their means (not noise), and
- at more than ``tolerance`` (default 10 %) of the rate per unit of learning rate that the whole
  run averaged from its first tenth to its last.

``fit`` warns with :class:`ConvergenceWarning` and sets ``FitResult.converged``;
``fit(steps="converged")`` trains until the test passes, up to ``max_steps``.

**Early stopping** (``fit(early_stopping=PATIENCE)``) stops once the validation score has not
improved for ``PATIENCE`` validations in a row and restores the best state seen; the best state and
the count are part of the checkpoint, so a resumed run stops at the same step.
"""

from __future__ import annotations

import math
import statistics
import warnings

#: The share of the run's average progress per unit of learning rate that its last tenth may
#: still make, for a converged run.
DEFAULT_TOLERANCE = 0.1
#: Fewest logged values in each tenth of the run for the test to be made at all.
MIN_PER_TENTH = 2


class ConvergenceWarning(UserWarning):
    """A run ended while its loss (or validation score) was still clearly improving."""


def _mean_and_variance(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    variance = statistics.variance(values) / len(values) if len(values) > 1 else 0.0
    return mean, variance


def _cumulative_lr(rows: list[dict]) -> list[float]:
    """The learning rate summed over the steps up to each row (rows log every few steps)."""
    total, previous, sums = 0.0, 0, []
    for row in rows:
        total += row["lr"] * (row["step"] - previous)
        previous = row["step"]
        sums.append(total)
    return sums


def convergence_check(rows: list[dict], column: str, sign: float, tolerance=DEFAULT_TOLERANCE):
    """``(converged, detail)`` for the curve ``sign * row[column]`` (lower is better) over the
    rows that have it; ``converged`` is ``None`` when the curve is too short to tell (fewer than
    ``10 * MIN_PER_TENTH`` values) or not finite."""
    spent = _cumulative_lr(rows)
    points = [(sign * r[column], c) for r, c in zip(rows, spent) if r.get(column) is not None]
    values = [v for v, _ in points]
    tenth = len(points) // 10
    if tenth < MIN_PER_TENTH or not all(math.isfinite(v) for v in values):
        return None, f"{len(points)} logged values are too few to judge convergence"
    first, _ = _mean_and_variance(values[:tenth])
    before, before_var = _mean_and_variance(values[-2 * tenth : -tenth])
    last, last_var = _mean_and_variance(values[-tenth:])
    lr_first, lr_before, lr_last = (
        statistics.fmean(c for _, c in part)
        for part in (points[:tenth], points[-2 * tenth : -tenth], points[-tenth:])
    )
    recent, total = before - last, first - last
    recent_rate = recent / max(lr_last - lr_before, 1e-30)
    average_rate = total / max(lr_last - lr_first, 1e-30)
    significant = recent > 2 * math.sqrt(before_var + last_var)
    if significant and (total <= 0 or recent_rate > tolerance * average_rate):
        share = f", {recent_rate / average_rate:.0%} of" if total > 0 else ", against"
        return False, (
            f"its last tenth still improved by {recent:.4g} per data point{share} the run's "
            f"average progress per unit of learning rate (tolerance {tolerance:.0%})"
        )
    return True, f"its last tenth improved by {recent:.4g}, within noise or tolerance"


def monitored_curve(rows: list[dict]) -> tuple[str, float]:
    """``(column, sign)``: the curve convergence is judged on, ``sign * value`` lower is
    better: the validation log-likelihood, else the validation loss, where there are enough
    validations; else the training loss."""
    for column, sign in (("val_log_lik", -1.0), ("val_loss", 1.0)):
        if sum(column in row for row in rows) >= 10 * MIN_PER_TENTH:
            return column, sign
    return "loss", 1.0


def warn_if_not_converged(rows: list[dict], tolerance: float, hint: str) -> bool | None:
    """Judge a finished run: warn when it has not converged; returns the verdict."""
    column, sign = monitored_curve(rows)
    converged, detail = convergence_check(rows, column, sign, tolerance)
    if converged is False:
        warnings.warn(
            f"training has not converged ({column}): {detail}. {hint}",
            ConvergenceWarning,
            stacklevel=3,
        )
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
