"""NADE (Larochelle & Murray 2011): the neural autoregressive distribution estimator, binary data.

Along an ordering ``o``, conditional ``d`` is a logistic regression on a hidden layer that sees
the dimensions before it::

    h_d = sigmoid(c + W[:, o_<d] x_{o_<d})                    (H hidden units)
    p(x_{o_d} = 1 | x_{o_<d}) = sigmoid(b_{o_d} + V[o_d] . h_d)

The hidden pre-activations share ``W`` across conditionals, so all D of them come from one running
sum, ``a_{d+1} = a_d + W[:, o_d] x_{o_d}``: an O(D H) forward pass (here an exclusive cumulative
sum), not O(D^2 H). Several orderings make an ensemble trained order-agnostically; see
:mod:`ppgen.models.ordered_autoregressive`.

Trained for several orderings, the hidden layer cannot tell a dimension that is absent (not yet
in the ordering) from one that is observed as 0. Uria et al. (2014) found it crucial to give the
network the input mask too: ``h_d = sigmoid(c + W x_{o_<d} + U 1_{o_<d})``, which costs a second
running sum (of ``U``'s columns, the same for every data point). ``mask_inputs`` defaults to on
for ensembles; with one ordering every conditional always sees the same dimensions, so the mask
term would only be a per-position bias.
"""

from __future__ import annotations

import torch

from ..registry import MODELS
from .ordered_autoregressive import (
    BinaryConditionals,
    OrderedAutoregressive,
    check_count,
    random_orderings,
)


def resolve_mask_inputs(mask_inputs: bool | None, num_orderings: int) -> bool:
    """The ``mask_inputs`` option: ``None`` means on exactly for ensembles."""
    if mask_inputs is None:
        return num_orderings > 1
    if not isinstance(mask_inputs, bool):
        raise TypeError(f"mask_inputs must be True, False or None, got {mask_inputs!r}")
    return mask_inputs


def hidden_pre_activation(
    x: torch.Tensor,
    orderings: torch.Tensor,
    W: torch.Tensor,
    c: torch.Tensor,
    mask_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """NADE's hidden pre-activations of every conditional of every member, in member order.

    ``x``: ``(..., batch, D)``; ``orderings``: ``(K, D)``; ``W`` and ``mask_weights``:
    ``(H, D)``; ``c``: ``(H,)``. Returns ``(..., batch, K, D, H)``, row ``t`` of member ``k``
    being ``c + sum_{s<t} W[:, o_s] x_{o_s}`` (+ ``sum_{s<t} U[:, o_s]``).
    """
    inputs = x[..., orderings].unsqueeze(-1) * W.T[orderings]  # (..., batch, K, D, H)
    # Exclusive running sum: conditional t sees the dimensions o_0, ..., o_{t-1} only.
    pre_activation = c + inputs.cumsum(-2) - inputs
    if mask_weights is not None:  # which dimensions are present: the same for every point
        present = mask_weights.T[orderings]  # (K, D, H)
        pre_activation = pre_activation + (present.cumsum(-2) - present)
    return pre_activation


@MODELS.register("nade")
class NADE(BinaryConditionals, OrderedAutoregressive):
    """NADE for binary data: exact log p(x); an ensemble of orderings when num_orderings > 1."""

    reference_setup = {"data": ("digits", {"binarize": "threshold"}), "model": {}, "fit": {}}
    example_options = {"hidden_dim": 16, "num_orderings": 2}

    likelihood = "bernoulli"
    # The budget of benchmarks/digits_reference.py (results there); fit's convergence check
    # passes at it on seeds 0 and 1 (benchmarks/results/fit_defaults.md).
    default_lr = 3e-3
    default_steps = 2000

    def __init__(
        self,
        data_dim: int,
        hidden_dim: int = 100,
        num_orderings: int = 1,
        ordering_seed: int = 0,
        mask_inputs: bool | None = None,
        *,
        name: str | None = None,
    ):
        super().__init__(data_dim, name=name)
        self.hidden_dim = check_count(hidden_dim, "hidden_dim")
        check_count(num_orderings, "num_orderings")
        self._init_orderings(random_orderings(data_dim, num_orderings, ordering_seed))
        self.W = torch.nn.Parameter(torch.randn(hidden_dim, data_dim) / data_dim**0.5)  # (H, D)
        self.c = torch.nn.Parameter(torch.zeros(hidden_dim))
        self.V = torch.nn.Parameter(torch.randn(data_dim, hidden_dim) / hidden_dim**0.5)  # (D, H)
        self.b = torch.nn.Parameter(torch.zeros(data_dim))
        self.mask_inputs = resolve_mask_inputs(mask_inputs, num_orderings)
        if self.mask_inputs:
            self.U = torch.nn.Parameter(torch.zeros(hidden_dim, data_dim))  # (H, D)

    def member_conditionals(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        """Logits of every ``p(x_d = 1 | x_<d)`` of every member, ``(..., batch, K, D)``."""
        order = self.orderings  # (K, D)
        mask_weights = self.U if self.mask_inputs else None
        hidden = torch.sigmoid(hidden_pre_activation(x, order, self.W, self.c, mask_weights))
        logits = self.b[order] + (hidden * self.V[order]).sum(-1)  # (..., batch, K, D), order o
        return (logits.gather(-1, self.inverse_orderings.expand(logits.shape)),)  # data order

    def init_from_data(self, x: torch.Tensor) -> NADE:
        """Output biases at the logits of the training pixel frequencies (Laplace-smoothed)."""
        self.check_data(x, "x")
        with torch.no_grad():
            p = (x.sum(0) + 1) / (len(x) + 2)
            self.b.copy_(torch.logit(p))
        return self

    def extra_repr(self) -> str:
        return (
            f"data_dim={self.data_dim}, hidden_dim={self.hidden_dim}, "
            f"num_orderings={self.ensemble_size}, mask_inputs={self.mask_inputs}"
        )
