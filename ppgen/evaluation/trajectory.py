"""``gradient_trajectory``: train with one estimator and measure every estimator's gradient at the
same parameters along the way, as REBAR's authors compared them (Tucker et al. 2017, Fig. 2).

Every ``every`` steps (and at the last), training pauses; on a fixed batch (the first
``batch_rows`` training rows) each estimator in ``measure`` draws ``num_repeats`` gradient
estimates at the current parameters (:func:`ppgen.evaluation.gradient_stats`), and the rows are
kept. The measurement draws from a forked random state, so the training run is the one it would
have been without it. An estimator with learnable state of its own (REBAR's temperature, NVIL's
baseline) is measured with a fresh object, untuned, unless it is the one training.

One row per step, estimator and parameter group, with ``gradient_stats``' columns;
:func:`ppgen.plots.plot_gradient_trajectory` draws log-variance against step.
"""

from __future__ import annotations

import pandas as pd
import torch

from ..data import Dataset
from ..inference.lookup import get_estimator
from ..program.random_state import forked_random_state
from ..training.trainer import fit
from ..validation import check_int_at_least, check_positive_int
from .gradients import gradient_stats


def measurement_rows(data, batch_rows: int):
    """The fixed batch the gradients are measured on: the first ``batch_rows`` training rows."""
    rows = data.train if isinstance(data, Dataset) else data
    if isinstance(rows, torch.Tensor):
        return rows[:batch_rows]
    raise TypeError(
        "gradient_trajectory measures on the first rows of a tensor or a Dataset's train split, "
        f"got {type(rows).__name__}"
    )


def gradient_trajectory(
    model,
    data,
    train_with="trace",
    measure=("trace", "rloo", "arm", "disarm", "rebar", "relax"),
    *,
    steps: int = 1000,
    every: int = 100,
    num_repeats: int = 50,
    batch_rows: int = 100,
    num_particles: dict | None = None,
    reference=None,
    **fit_options,
) -> pd.DataFrame:
    """Train ``model`` with ``train_with`` and measure each of ``measure`` every ``every`` steps.

    Args:
        model: a ppgen model or a user's ``(model, guide)`` pair (trained in place).
        data: a tensor or a :class:`~ppgen.data.Dataset`.
        num_particles: ``{estimator: K}`` for the measured ones (default: each one's own).
        reference: passed to ``gradient_stats`` (bias against the ELBO's gradient).
        fit_options: passed to :func:`ppgen.fit` (``lr``, ``batch_size``, ``seed``...).

    Returns:
        ``gradient_stats``' rows with a ``step`` column and ``trained_with``.
    """
    check_positive_int(steps, "steps", allow_none=False)
    check_positive_int(every, "every", allow_none=False)
    check_int_at_least(num_repeats, "num_repeats", 2)
    check_positive_int(batch_rows, "batch_rows", allow_none=False)
    for name in measure:  # an unknown name fails here, not after the first N steps of training
        get_estimator(name)
    batch = measurement_rows(data, batch_rows)
    particles = dict(num_particles or {})
    tables = []

    def measure_here(step, _model):
        if step % every and step != steps:
            return None
        # fit runs callbacks without gradients; the estimates need them.
        with forked_random_state(), torch.enable_grad():
            for name in measure:
                stats = gradient_stats(
                    model, batch, name, num_repeats=num_repeats,
                    num_particles=particles.get(name), reference=reference,
                )  # fmt: skip
                tables.append(stats.assign(step=step))
        return None

    fit(model, data, estimator=train_with, steps=steps, log_every=every, callback=measure_here,
        **fit_options)  # fmt: skip
    name = train_with if isinstance(train_with, str) else getattr(train_with, "name", "custom")
    return pd.concat(tables, ignore_index=True).assign(trained_with=name)
