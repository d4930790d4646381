"""The optimizers and learning-rate schedules ``fit`` offers, by name."""

from __future__ import annotations

import torch

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SCHEDULES = ("cosine", "constant")


def make_schedule(optimizer, kind: str, total_steps: int):
    if kind == "cosine":  # anneal to lr/100 over the run
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, total_steps, eta_min=optimizer.param_groups[0]["lr"] / 100
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
