"""Turn what the user asked to optimize into one loss callable for the trainer.

``fit`` accepts an estimator name, a Pyro ELBO object, or a custom loss callable
``loss(model, guide, *args) -> tensor``; all three become a callable with that signature whose value
is the loss summed over the batch.
"""

from __future__ import annotations

from collections.abc import Callable

from pyro.infer import ELBO

from .registry import get_estimator


def resolve_objective(
    estimator, loss, num_particles: int, max_plate_nesting: int | None
) -> tuple[Callable, str]:
    """Return ``(loss_callable, description)`` for the trainer.

    Args:
        estimator: a registered name, a Pyro ``ELBO`` instance, or an estimator object (a loss
            callable such as ``get_estimator("tracegraph", baseline="nvil")``).
        loss: a custom loss callable, or ``None``. Exclusive with a non-default ``estimator``.
        num_particles: particles for a named estimator.
        max_plate_nesting: the model's plate nesting, or ``None`` to let Pyro find it.
    """
    if not isinstance(num_particles, int) or num_particles < 1:
        raise ValueError(f"num_particles must be a positive int, got {num_particles!r}")
    if loss is not None:
        if estimator != "trace":
            raise ValueError("pass either estimator= or loss=, not both")
        if not callable(loss):
            raise TypeError(f"loss must be callable as loss(model, guide, *args), got {loss!r}")
        return loss, getattr(loss, "__name__", type(loss).__name__)
    if isinstance(estimator, ELBO):
        if num_particles != 1:
            raise ValueError("set num_particles on the ELBO object itself, not in fit()")
        return _elbo_loss(estimator), type(estimator).__name__
    if isinstance(estimator, str):
        built = get_estimator(
            estimator, num_particles=num_particles, max_plate_nesting=max_plate_nesting
        )
        return (_elbo_loss(built) if isinstance(built, ELBO) else built), estimator
    if callable(estimator):  # an estimator object, e.g. get_estimator("tracegraph", ...)
        return estimator, getattr(estimator, "__name__", type(estimator).__name__)
    raise TypeError(
        f"estimator must be a name, a Pyro ELBO or a loss callable, got {type(estimator).__name__}"
    )


def _elbo_loss(elbo: ELBO) -> Callable:
    if not hasattr(elbo, "differentiable_loss"):
        raise TypeError(
            f"{type(elbo).__name__} has no differentiable_loss(); use the ppgen estimator of the "
            "same name (see ppgen.inference.available_estimators())"
        )
    return elbo.differentiable_loss
