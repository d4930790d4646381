"""Turn what the user asked to optimize into one loss for the trainer.

``fit`` accepts an estimator name, a Pyro ELBO object, an estimator object, a registered custom
loss name (``"mmd"``, ``"gan"``...) or a loss callable ``loss(model, guide, *args) -> tensor``,
including composed ones (``elbo("trace") + 10 * MMDLoss(...)``). All of them become a
:class:`~ppgen.inference.losses.Loss` whose value is summed over the batch.
"""

from __future__ import annotations

from pyro.infer import ELBO

from .estimator import Estimator
from .losses.compose import ELBOLoss, Loss, as_loss
from .losses.lookup import get_loss


def resolve_objective(
    estimator, loss, num_particles: int | None, max_plate_nesting: int | None
) -> tuple[Loss, str]:
    """Return ``(loss, description)`` for the trainer.

    Args:
        estimator: a registered name, a Pyro ``ELBO`` instance, or an estimator object (a loss
            callable such as ``get_estimator("tracegraph", baseline="nvil")``).
        loss: a custom loss callable or a registered loss name, or ``None``. Exclusive with a
            non-default ``estimator``.
        num_particles: particles for a named estimator; ``None`` for its own default (1 for
            most, 5 for ``vimco`` and ``rws``, which need several).
        max_plate_nesting: the model's plate nesting, or ``None`` to let Pyro find it.
    """
    if num_particles is not None and (
        isinstance(num_particles, bool) or not isinstance(num_particles, int) or num_particles < 1
    ):
        raise ValueError(f"num_particles must be a positive int or None, got {num_particles!r}")
    options = {} if num_particles is None else {"num_particles": num_particles}
    if loss is not None:
        if estimator != "trace":
            raise ValueError("pass either estimator= or loss=, not both")
        if isinstance(loss, str):
            return get_loss(loss), loss
        if not callable(loss):
            raise TypeError(f"loss must be callable as loss(model, guide, *args), got {loss!r}")
        composed = as_loss(loss)
        if max_plate_nesting is not None:
            composed.set_max_plate_nesting(max_plate_nesting)
        return composed, _name_of(loss)
    if isinstance(estimator, ELBO):
        if num_particles not in (None, estimator.num_particles):
            raise ValueError("set num_particles on the ELBO object itself, not in fit()")
        name = estimator.name if isinstance(estimator, Estimator) else type(estimator).__name__
        return ELBOLoss(estimator), name
    if isinstance(estimator, str):
        return (
            ELBOLoss(estimator, max_plate_nesting=max_plate_nesting, **options),
            estimator,
        )
    if isinstance(estimator, Loss):
        if max_plate_nesting is not None:
            estimator.set_max_plate_nesting(max_plate_nesting)
        return estimator, estimator.name
    if callable(estimator):  # an estimator object, e.g. get_estimator("tracegraph", ...)
        return ELBOLoss(estimator), _name_of(estimator)
    raise TypeError(
        f"estimator must be a name, a Pyro ELBO or a loss callable, got {type(estimator).__name__}"
    )


def _name_of(loss) -> str:
    return getattr(loss, "__name__", type(loss).__name__)
