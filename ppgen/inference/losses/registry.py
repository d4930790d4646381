"""Custom losses by name, for ``fit(model, data, loss="mmd")``, the CLI and ``ppgen list``.

Kept apart from the estimator registry: estimators are ELBO gradient estimators that every
model/guide pair with a likelihood can use, while these losses compare samples and suit the
models they name (a Generator's ``"x"`` site by default).

Recipe: ``register_loss(name, factory, description)`` where ``factory(**options)`` returns a
:class:`~ppgen.inference.losses.Loss`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ...validation import check_name

_FACTORIES: dict[str, Callable] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_loss(name: str, factory: Callable, description: str) -> None:
    """Register ``factory(**options)`` under ``name`` with a one-line description."""
    if name in _FACTORIES:
        raise ValueError(f"a loss named {name!r} is already registered")
    _FACTORIES[name] = factory
    _DESCRIPTIONS[name] = description


def available_losses() -> dict[str, str]:
    """Registered custom loss names with a one-line description each."""
    return dict(sorted(_DESCRIPTIONS.items()))


def get_loss(name: str, **options):
    """Build the loss registered as ``name``, e.g. ``get_loss("mmd", kernel="imq")``.

    Raises:
        ValueError: unknown name, or an option the loss does not take.
    """
    check_name(name, _FACTORIES, "loss")
    factory = _FACTORIES[name]
    signature = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values())
    unknown = sorted(set(options) - set(signature))
    if unknown and not takes_any:
        raise ValueError(
            f"loss {name!r} takes no option(s) {', '.join(unknown)}; "
            f"it accepts {', '.join(signature)}"
        )
    return factory(**options)
