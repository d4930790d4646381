"""The order in which ``fit`` visits the rows: one seeded permutation per epoch for minibatches,
the rows in their own order for full-batch training, so that parameters indexed by row stay with
their rows."""

from __future__ import annotations

import torch


class BatchOrder:
    """The rows of each step: a seeded permutation per epoch for minibatches, the rows in order
    for full batches (``batch_size == num_rows``). State: ``order`` and ``position``, saved in
    checkpoints."""

    def __init__(self, num_rows: int, batch_size: int, generator: torch.Generator, device):
        self.num_rows, self.batch_size = num_rows, batch_size
        self.generator, self.device = generator, device
        self.order: torch.Tensor | None = None
        self.position = 0

    @property
    def full_batch(self) -> bool:
        return self.batch_size >= self.num_rows

    def next_index(self) -> torch.Tensor:
        if self.order is None or self.position >= self.num_rows:
            if self.full_batch:  # never reorder: rows keep their own parameters
                self.order = torch.arange(self.num_rows, device=self.device)
            else:
                self.order = torch.randperm(
                    self.num_rows, generator=self.generator, device=self.device
                )
            self.position = 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += len(index)
        return index

    def state(self) -> dict:
        return {"order": self.order, "position": self.position}

    def load(self, state: dict) -> None:
        order = state["order"]
        self.order = None if order is None else order.to(self.device)
        self.position = state["position"]
