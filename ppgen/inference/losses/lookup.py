"""Custom losses by name, for ``fit(model, data, loss="mmd")``, the CLI and ``ppgen list``, over
the one registry (:data:`ppgen.registry.LOSSES`).

Kept apart from the estimators: estimators are ELBO gradient estimators that every model/guide pair
with a likelihood can use, while these losses compare samples and suit the models they name (a
Generator's ``"x"`` site by default).

Recipe: in the loss's own file, ``LOSSES.register(name, factory, description=...)`` where
``factory(**options)`` returns a :class:`~ppgen.inference.losses.Loss`.
"""

from __future__ import annotations

from collections.abc import Callable

from ...registry import LOSSES


def register_loss(name: str, factory: Callable, description: str) -> None:
    """Register ``factory(**options)`` under ``name`` with a one-line description."""
    LOSSES.register(name, factory, description=description, stacklevel=2)


def available_losses() -> dict[str, str]:
    """Registered custom loss names with a one-line description each."""
    return LOSSES.descriptions()


def get_loss(name: str, **options):
    """Build the loss registered as ``name``, e.g. ``get_loss("mmd", kernel="imq")``.

    Raises:
        ValueError: unknown name, or an option the loss does not take.
    """
    return LOSSES.build(name, **options)
