"""Estimators by name: :func:`available_estimators` and :func:`get_estimator`, over the one
registry (:data:`ppgen.registry.ESTIMATORS`).

An estimator is an :class:`~ppgen.inference.estimator.Estimator`: a loss callable
``estimator(model, guide, *args) -> tensor`` (a Pyro ELBO object may be one) whose value is the
loss summed over the batch and whose gradient is the estimator's, and which declares what it needs
of a program. ``ppgen.fit`` also takes any Pyro ELBO object or a user's own loss callable, so a
registered name, a Pyro ELBO and a user's loss are interchangeable. The recipe for a new estimator
is in :mod:`ppgen.inference.estimator`.
"""

from __future__ import annotations

from ..registry import ESTIMATORS, check_options
from ..validation import check_positive_int
from .estimator import Estimator


def register_estimator(name: str, estimator: type, description: str | None = None) -> type:
    """Register the :class:`Estimator` subclass ``estimator`` under ``name`` (the same as the
    decorator ``@ESTIMATORS.register(name)``)."""
    if not (isinstance(estimator, type) and issubclass(estimator, Estimator)):
        raise TypeError(
            f"an estimator registered as {name!r} must subclass ppgen.inference.estimator."
            f"Estimator (which declares what it needs of a program), got {estimator!r}"
        )
    return ESTIMATORS.register(name, estimator, description=description, stacklevel=2)


def available_estimators() -> dict[str, str]:
    """Registered estimator names with a one-line description each."""
    return ESTIMATORS.descriptions()


def get_estimator(name: str, **options) -> Estimator:
    """Build the estimator registered as ``name``, e.g. ``get_estimator("trace", num_particles=8)``.

    ``"NAME+BASELINE"`` is short for ``get_estimator(NAME, baseline=BASELINE)``, e.g.
    ``"tracegraph+nvil"``; it works wherever an estimator name does (``fit``, ``compare``, CLI).

    Raises:
        ValueError: unknown name, or an option the estimator does not take.
    """
    name, _, baseline = str(name).partition("+")
    if baseline:
        options["baseline"] = baseline
    estimator = ESTIMATORS.get(name)
    check_options(estimator.options_of(), options, f"estimator {name!r}")
    if options.get("num_particles") is not None:
        check_positive_int(options["num_particles"], "num_particles", allow_none=False)
    return estimator.create(**options)
