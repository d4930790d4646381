"""NADE (Larochelle & Murray 2011): the neural autoregressive distribution estimator, binary data.

Along an ordering ``o``, conditional ``d`` is a logistic regression on a hidden layer that sees
the dimensions before it::

    h_d = sigmoid(c + W[:, o_<d] x_{o_<d})                    (H hidden units)
    p(x_{o_d} = 1 | x_{o_<d}) = sigmoid(b_{o_d} + V[o_d] . h_d)

The hidden pre-activations share ``W`` across conditionals, so all D of them come from one running
sum, ``a_{d+1} = a_d + W[:, o_d] x_{o_d}``: an O(D H) forward pass (here an exclusive cumulative
sum), not O(D^2 H). Several orderings make an ensemble trained order-agnostically; see
:mod:`ppgen.models.ordered_autoregressive`.
"""

from __future__ import annotations

import torch

from .ordered_autoregressive import (
    BinaryConditionals,
    OrderedAutoregressive,
    check_count,
    random_orderings,
)
from .registry import register_model


@register_model("nade")
class NADE(BinaryConditionals, OrderedAutoregressive):
    """NADE for binary data: exact log p(x); an ensemble of orderings when num_orderings > 1."""

    likelihood = "bernoulli"
    # The budget of benchmarks/digits_reference.py (results there); benchmarks/fit_defaults.py
    # does not cover the model yet, so fit's convergence check at it is unmeasured.
    default_lr = 3e-3
    default_steps = 2000

    def __init__(
        self,
        data_dim: int,
        hidden_dim: int = 100,
        num_orderings: int = 1,
        ordering_seed: int = 0,
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

    def member_conditionals(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        """Logits of every ``p(x_d = 1 | x_<d)`` of every member, ``(..., batch, K, D)``."""
        order = self.orderings  # (K, D)
        inputs = x[..., order].unsqueeze(-1) * self.W.T[order]  # (..., batch, K, D, H)
        # Exclusive running sum: conditional t sees the dimensions o_0, ..., o_{t-1} only.
        hidden = torch.sigmoid(self.c + inputs.cumsum(-2) - inputs)  # (..., batch, K, D, H)
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
            f"num_orderings={self.ensemble_size}"
        )
