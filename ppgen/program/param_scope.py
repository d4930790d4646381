"""Each plain model/guide pair keeps its ``pyro.param`` values to itself.

Pyro keeps ``pyro.param`` values in one global store, by name. Two users' pairs that both call
``pyro.param("loc", ...)`` would share one value: the second fit would start from the first's
result. ppgen gives every plain pair its own store (Pyro's ``ParamStoreDict.scope``), keyed by the
pair's two callables:

- ``fit`` on a pair it has not trained starts from the pair's own initial values, whatever the
  global store holds; ``fit`` on a pair it trained before continues from where it stopped (as
  repeated ``svi.step`` calls do);
- after ``fit`` the trained values are also written to Pyro's global store, so that
  ``pyro.param(name)`` reads them as after Pyro's own SVI loop;
- the evaluations (``log_likelihood``, ``elbo``, ``to_inference_data``...) read a pair's own store
  when ``fit`` trained it, else the global store (a pair trained with Pyro's own loop).

Parameters owned by modules (ppgen models, autoguides, ``pyro.module``) live in their modules and
are unaffected.
"""

from __future__ import annotations

from contextlib import contextmanager

import pyro

from ..models.base import GenerativeModel

_SCOPES: dict = {}


def _key(model_fn, guide_fn):
    owner = getattr(model_fn, "__self__", None)
    if isinstance(owner, GenerativeModel):
        return None  # a ppgen model owns its parameters; unique names keep them apart
    return (model_fn, guide_fn)


@contextmanager
def pair_params(model_fn, guide_fn, *, training: bool = False):
    """Run the enclosed code with the pair's own parameter store (module docstring).

    ``training``: create the pair's store if it has none, and publish the values to the global
    store on exit. Otherwise a pair without its own store uses the global one.
    """
    key = _key(model_fn, guide_fn)
    if key is None or (not training and key not in _SCOPES):
        yield
        return
    store = pyro.get_param_store()
    state = _SCOPES.setdefault(key, {"params": {}, "constraints": {}})
    with store.scope(state):
        yield
    if training:
        store.set_state(state)
