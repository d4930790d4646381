""":class:`Flow`, the container every flow family builds, and :func:`build_flow`, which builds one
by name.

A flow is a stack of Pyro transforms ``x = f_L(... f_1(u))`` applied to ``u ~ N(0, I)``. Families
register a builder under a name (``realnvp``, ``maf``, ``iaf``, ``nsf``, ``nsf-ar``) in
:data:`ppgen.registry.FLOWS`; models build them by name through :func:`build_flow`, and the flow
contract tests run over every registered name.

Recipe for a new family (``CONTRIBUTING.md``): one file in ``ppgen/models/flows/`` with
``build(dim, num_layers, hidden_dims, **options) -> Flow`` from Pyro's transforms, decorated with
``@FLOWS.register(name, description=...)``. The package imports every file in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.distributions import ComposeTransform, Transform

from ...registry import FLOWS
from ...validation import check_positive_int, check_positive_ints


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


def register_flow(name: str, builder: Callable[..., Flow], description: str) -> None:
    """Register ``builder(dim, num_layers, hidden_dims, **options) -> Flow`` under ``name``: the
    same as ``FLOWS.register(name, builder, description=description)``."""
    FLOWS.register(name, builder, description=description, stacklevel=2)


def available_flows() -> dict[str, str]:
    """Registered flow names and one-line descriptions."""
    return FLOWS.descriptions()


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
    builder = FLOWS.get(name)
    check_positive_int(dim, "dim", allow_none=False)
    check_positive_int(num_layers, "num_layers", allow_none=False)
    if hidden_dims is None:
        hidden_dims = [max(64, 10 * dim)] * 2
    hidden_dims = check_positive_ints(hidden_dims, "hidden_dims")
    return builder(dim, num_layers, hidden_dims, **options)
