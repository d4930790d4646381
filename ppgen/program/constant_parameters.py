"""A program evaluated with its parameters held constant, or its samples held constant.

Path-derivative estimators (DReG, sticking the landing) need ``log q(z)`` whose gradient flows
through the reparameterized sample ``z(phi, eps)`` only, not through ``q``'s parameters:
:func:`with_constant_parameters` swaps the parameters of an ``nn.Module`` owner (a ppgen model)
for detached copies with ``torch.func.functional_call`` and detaches ``pyro.param`` values by a
messenger. :func:`frozen_samples` is the other half: a trace to replay whose draws are constants.
"""

from __future__ import annotations

import torch
from pyro.poutine.messenger import Messenger


class _DetachParams(Messenger):
    """Makes ``pyro.param`` values constants."""

    def _pyro_post_param(self, msg):
        value = msg["value"]
        detached = value.detach()
        # A plate that subsamples the parameter (pyro.param(..., event_dim=)) finds the
        # unconstrained tensor through these attributes; keep them on the constant.
        for attribute in ("unconstrained", "_pyro_unconstrained_param"):
            if hasattr(value, attribute):
                setattr(detached, attribute, getattr(value, attribute))
        msg["value"] = detached


class _CallMethod(torch.nn.Module):
    """Calls ``owner.<method>`` so that ``functional_call`` can swap ``owner``'s parameters."""

    def __init__(self, owner: torch.nn.Module, method: str):
        super().__init__()
        self.owner = owner
        self.method = method

    def forward(self, *args, **kwargs):
        return getattr(self.owner, self.method)(*args, **kwargs)


def with_constant_parameters(fn):
    """``fn`` evaluated with every parameter held constant (samples keep their gradients)."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, torch.nn.Module):
        wrapper = _CallMethod(owner, fn.__name__)
        constants = {f"owner.{name}": p.detach() for name, p in owner.named_parameters()}

        def call(*args, **kwargs):  # keyword data (labels, a conditional model's y) too
            return torch.func.functional_call(wrapper, constants, args, kwargs, strict=False)

        return _DetachParams()(call)
    return _DetachParams()(fn)


def frozen_samples(trace):
    """A copy of ``trace`` whose sampled values are constants."""
    copy = trace.copy()
    for name, site in trace.nodes.items():
        if site["type"] == "sample":
            copy.nodes[name] = dict(site, value=site["value"].detach())
    return copy
