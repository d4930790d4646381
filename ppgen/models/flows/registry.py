"""The flow registry and :class:`Flow`, the container every flow family builds.

A flow is a stack of Pyro transforms ``x = f_L(... f_1(u))`` applied to ``u ~ N(0, I)``. Families
register a builder under a name (``realnvp``, ``maf``, ``iaf``, ``nsf``, ``nsf-ar``); models build
them by name through :func:`build_flow`, and the flow contract tests run over every registered name.

Recipe for a new family: write ``build(dim, num_layers, hidden_dims, **options) -> Flow`` from
Pyro's transforms in its own file, register it with :func:`register_flow`, and import the file in
``flows/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.distributions import ComposeTransform, Transform

from ...validation import check_name


class Flow(torch.nn.Module):
    """A stack of transforms; ``inverted[i]`` marks layers used in their inverse direction.

    An autoregressive layer is fast in one direction and sequential in the other. A density model
    needs the data-to-noise direction to be fast (MAF), a sampler or a guide the noise-to-data
    direction (IAF); the same Pyro module serves both, used as is or through ``.inv``.
    """

    def __init__(self, dim: int, layers: Sequence[Transform], inverted: Sequence[bool] = ()):
        super().__init__()
        self.dim = dim
        self.layers = torch.nn.ModuleList(layers)
        self.inverted = tuple(inverted) or (False,) * len(layers)
        if len(self.inverted) != len(self.layers):
            raise ValueError("inverted needs one flag per layer")

    def transforms(self) -> list[Transform]:
        """The layers in sampling order (noise to data), as Pyro transforms."""
        return [layer.inv if inv else layer for layer, inv in zip(self.layers, self.inverted)]

    def transform(self) -> Transform:
        """The whole flow as one transform ``u -> x``."""
        return ComposeTransform(self.transforms())

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


_FLOWS: dict[str, tuple[Callable[..., Flow], str]] = {}


def register_flow(name: str, builder: Callable[..., Flow], description: str) -> None:
    """Register ``builder(dim, num_layers, hidden_dims, **options) -> Flow`` under ``name``."""
    if name in _FLOWS:
        raise ValueError(f"a flow named {name!r} is already registered")
    _FLOWS[name] = (builder, description)


def available_flows() -> dict[str, str]:
    """Registered flow names and one-line descriptions."""
    return {name: description for name, (_, description) in sorted(_FLOWS.items())}


def build_flow(
    name: str, dim: int, num_layers: int = 4, hidden_dims: Sequence[int] | None = None, **options
) -> Flow:
    """Build the registered flow ``name`` on ``dim`` coordinates.

    Args:
        name: a name from :func:`available_flows`.
        dim: the number of coordinates (the event size).
        num_layers: the number of coupling / autoregressive layers.
        hidden_dims: hidden sizes of each layer's conditioner network (default: two layers of
            ``max(64, 10 * dim)`` units).
        options: family-specific options (``count_bins``, ``bound`` for the spline flows).
    """
    check_name(name, _FLOWS, "flow")
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
    if hidden_dims is None:
        hidden_dims = [max(64, 10 * dim)] * 2
    hidden_dims = list(hidden_dims)
    if not hidden_dims or not all(isinstance(h, int) and h > 0 for h in hidden_dims):
        raise ValueError(
            f"hidden_dims must be a non-empty list of positive ints, got {hidden_dims}"
        )
    return _FLOWS[name][0](dim, num_layers, hidden_dims, **options)
