"""MADE (Germain, Gregor, Murray & Larochelle 2015): a masked autoencoder density estimator.

An MLP from ``x`` to the logits of ``x`` whose weight matrices are masked so that output ``d``
depends only on the inputs before ``d`` in an ordering: every unit gets a degree (inputs their
rank ``1..D``, hidden units a degree in ``1..D-1``), a connection is kept when it does not raise the
degree, and output ``d`` sees only hidden units of degree below its own rank. One pass gives all D
conditionals of a binary autoregressive model, so ``log_prob`` is exact.

Member 0 uses the natural order and the evenly spaced degrees of Pyro's own MADE masks
(:func:`pyro.nn.auto_reg_nn.create_mask`, the masks of ``AutoRegressiveNN``). With
``num_masks = K > 1`` the other members draw a random ordering and random hidden degrees,
``m_l(k) ~ U{min m_{l-1}, ..., D-1}`` as in the paper, and share every weight: training the
ensemble with its prior guide is order- and connectivity-agnostic training, and ``log_prob`` is the
exact mask ensemble (:mod:`ppgen.models.ordered_autoregressive`). Each of the K members costs one
pass, so a K-mask model trains K times slower per step than one mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pyro.nn.auto_reg_nn import create_mask

from ..registry import MODELS
from .ordered_autoregressive import (
    BinaryConditionals,
    OrderedAutoregressive,
    check_count,
    random_orderings,
)


def random_degree_masks(
    ordering: torch.Tensor, hidden_dims: Sequence[int], generator: torch.Generator
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Masks with random hidden degrees (Germain et al. 2015, Sec. 4), in the layout of Pyro's
    ``create_mask``: ``([input->h1, h1->h2, ..., hL->output], skip)``, each ``(out, in)``."""
    data_dim = len(ordering)
    input_degrees = torch.empty(data_dim)
    input_degrees[ordering] = torch.arange(1, data_dim + 1, dtype=torch.float)  # rank of each dim
    degrees, masks = input_degrees, []
    for width in hidden_dims:
        low = int(degrees.min())
        hidden = torch.randint(low, data_dim, (width,), generator=generator).float()  # low..D-1
        masks.append((hidden[:, None] >= degrees[None, :]).float())
        degrees = hidden
    masks.append((input_degrees[:, None] > degrees[None, :]).float())
    skip = (input_degrees[:, None] > input_degrees[None, :]).float()
    return masks, skip


@MODELS.register("made")
class MADE(BinaryConditionals, OrderedAutoregressive):
    """MADE for binary data: exact log p(x); a mask ensemble when num_masks > 1."""

    reference_setup = {"data": ("digits", {"binarize": "threshold"}), "model": {}, "fit": {}}
    example_options = {}

    choice_site = "mask"
    likelihood = "bernoulli"
    # The budget of benchmarks/digits_reference.py (results there); fit's convergence check
    # passes at it on seeds 0 and 1 (benchmarks/results/fit_defaults.md).
    default_lr = 3e-3
    default_steps = 2000

    def __init__(
        self,
        data_dim: int,
        hidden_dims: Sequence[int] = (200,),
        num_masks: int = 1,
        mask_seed: int = 0,
        skip_connections: bool = True,
        *,
        name: str | None = None,
    ):
        super().__init__(data_dim, name=name)
        if data_dim < 2:
            raise ValueError("MADE needs data_dim >= 2: one dimension has no conditional to mask")
        self.hidden_dims = tuple(check_count(h, "each of hidden_dims") for h in hidden_dims)
        if not self.hidden_dims:
            raise ValueError("hidden_dims must name at least one hidden layer")
        check_count(num_masks, "num_masks")
        if not isinstance(skip_connections, bool):
            raise TypeError(f"skip_connections must be a bool, got {skip_connections!r}")
        self.skip_connections = skip_connections
        self._init_orderings(random_orderings(data_dim, num_masks, mask_seed))
        self._init_masks(mask_seed)
        sizes = [data_dim, *self.hidden_dims, data_dim]
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(fan_in, fan_out) for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
        )
        if skip_connections:
            self.skip = torch.nn.Linear(data_dim, data_dim, bias=False)

    def _init_masks(self, seed: int) -> None:
        """One mask per layer and member, stacked as buffers ``mask_<l>`` of shape (K, out, in)."""
        generator = torch.Generator().manual_seed(seed + 1)  # not the orderings' stream
        per_member = [create_mask(self.data_dim, 0, list(self.hidden_dims), self.orderings[0], 1)]
        for ordering in self.orderings[1:]:
            per_member.append(random_degree_masks(ordering, self.hidden_dims, generator))
        for layer in range(len(self.hidden_dims) + 1):
            stacked = torch.stack([masks[layer] for masks, _ in per_member])
            self.register_buffer(f"mask_{layer}", stacked.float())
        self.register_buffer("mask_skip", torch.stack([skip for _, skip in per_member]).float())

    def _all_member_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of every member, ``(K, ..., batch, D)``: one masked pass per member."""
        h = x.unsqueeze(0)  # (1, ..., batch, D)
        for number, layer in enumerate(self.layers):
            masked = layer.weight * getattr(self, f"mask_{number}")  # (K, out, in)
            h = _per_member(masked, h) + layer.bias  # (K, ..., batch, out)
            if number < len(self.hidden_dims):
                h = F.relu(h)
        if self.skip_connections:
            h = h + _per_member(self.skip.weight * self.mask_skip, x.unsqueeze(0))
        return h

    def member_conditionals(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        """Logits of every ``p(x_d = 1 | x_<d)`` under every mask, ``(..., batch, K, D)``."""
        return (self._all_member_logits(x).movedim(0, -2),)

    def init_from_data(self, x: torch.Tensor) -> MADE:
        """Output biases at the logits of the training pixel frequencies (Laplace-smoothed)."""
        self.check_data(x, "x")
        with torch.no_grad():
            self.layers[-1].bias.copy_(torch.logit((x.sum(0) + 1) / (len(x) + 2)))
        return self

    def extra_repr(self) -> str:
        return (
            f"data_dim={self.data_dim}, hidden_dims={list(self.hidden_dims)}, "
            f"num_masks={self.ensemble_size}"
        )


def _per_member(weights: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``h @ weights[k].T`` for every member ``k``: weights ``(K, out, in)``, ``h`` of shape
    ``(K or 1, ..., in)`` -> ``(K, ..., out)``."""
    weights = weights.view(weights.shape[:1] + (1,) * (h.dim() - 2) + weights.shape[1:])
    return (weights @ h.unsqueeze(-1)).squeeze(-1)
