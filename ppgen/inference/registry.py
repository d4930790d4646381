"""The estimator registry: gradient estimators by name.

An estimator is either a Pyro ELBO object (``Trace_ELBO``...) or a callable
``loss(model, guide, *args) -> tensor`` whose value is the loss summed over the batch and whose
gradient is the estimator's gradient. ``ppgen.fit`` accepts both, so a Pyro ELBO, a registered name
and a user's own loss are interchangeable.

Recipe for a new estimator: write a file in ``ppgen/inference/`` with a factory
``make(num_particles=1, max_plate_nesting=None, **options)`` that returns one of the above, and
register it at the bottom of that file with :func:`register_estimator`; import the file in
``ppgen/inference/__init__.py``. An estimator with learnable state of its own (NVIL's baseline
network) exposes ``parameters()``, ``state_dict()`` and ``load_state_dict()``: ``fit`` then
optimizes those parameters with the model's and checkpoints the state.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ..validation import check_name, check_positive_int

_FACTORIES: dict[str, Callable] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_estimator(name: str, factory: Callable, description: str) -> None:
    """Register ``factory(**options)`` under ``name`` with a one-line description."""
    if name in _FACTORIES:
        raise ValueError(f"an estimator named {name!r} is already registered")
    _FACTORIES[name] = factory
    _DESCRIPTIONS[name] = description


def available_estimators() -> dict[str, str]:
    """Registered estimator names with a one-line description each."""
    return dict(sorted(_DESCRIPTIONS.items()))


def get_estimator(name: str, **options):
    """Build the estimator registered as ``name``, e.g. ``get_estimator("trace", num_particles=8)``.

    ``"NAME+BASELINE"`` is short for ``get_estimator(NAME, baseline=BASELINE)``, e.g.
    ``"tracegraph+nvil"``; it works wherever an estimator name does (``fit``, ``compare``, CLI).

    Raises:
        ValueError: unknown name, or an option the estimator does not take.
    """
    name, _, baseline = str(name).partition("+")
    if baseline:
        options["baseline"] = baseline
    check_name(name, _FACTORIES, "estimator")
    factory = _FACTORIES[name]
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"estimator {name!r} takes no option(s) {', '.join(unknown)}; "
            f"it accepts {', '.join(accepted)}"
        )
    if "num_particles" in options:
        check_positive_int(options["num_particles"], "num_particles", allow_none=False)
    return factory(**options)
