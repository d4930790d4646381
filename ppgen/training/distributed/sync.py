"""What ranks share: starting values, gradients, losses and small objects.

``DistributedDataParallel`` synchronises the registered ``nn.Parameter`` s of one module it wraps
and refuses steps in which some of them get no gradient. A Pyro program's trainable tensors are
more than that: ``pyro.param`` values in the parameter store, autoguides' parameters created on
the first call, an estimator's own networks (NVIL's baseline), an adversary's parameters stepped
by a second optimizer; and RWS's phases, a baseline or a GAN's players leave some of them without
a gradient in a step. So ppgen averages every tensor an optimizer steps, whatever created it, with
``torch.distributed.all_reduce`` on one flat buffer per dtype and device (as DDP's buckets do),
and keeps a gradient ``None`` where it was ``None`` on every rank (an optimizer then skips it as
a one-process run would).

Every function here is a no-op for one process.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from .ranks import Ranks


def broadcast_tensors(ranks: Ranks, tensors) -> None:
    """Copy rank 0's values into ``tensors`` on every rank, in place (parameters created lazily
    and randomly by the first call start identical everywhere)."""
    if not ranks.active:
        return
    with torch.no_grad():
        for tensor in tensors:
            dist.broadcast(tensor.data, src=0)


def _groups(parameters):
    """Parameters grouped by ``(dtype, device)``: one flat buffer each."""
    groups: dict = {}
    for p in parameters:
        groups.setdefault((p.dtype, p.device), []).append(p)
    return groups.values()


def sum_gradients(ranks: Ranks, parameters) -> None:
    """Replace every parameter's gradient by its sum over ranks (each rank's loss is already
    weighted by its share of the global batch, so the sum is the one-process gradient).
    A gradient that is ``None`` on every rank stays ``None``."""
    if not ranks.active:
        return
    for group in _groups(parameters):
        first = group[0]
        grads = [
            p.grad.reshape(-1) if p.grad is not None else first.new_zeros(p.numel()) for p in group
        ]
        present = first.new_tensor([p.grad is not None for p in group], dtype=first.dtype)
        flat = torch.cat([*grads, present])  # (total numel + len(group),)
        dist.all_reduce(flat)
        offset = 0
        for p in group:
            p.grad = flat[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        for p, count in zip(group, flat[offset:].tolist()):
            if count == 0:
                p.grad = None


def sum_tensor(ranks: Ranks, value: torch.Tensor) -> torch.Tensor:
    """``value`` summed over ranks (a new tensor)."""
    if not ranks.active:
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total


def broadcast_object(ranks: Ranks, value):
    """Rank 0's ``value`` (picklable) on every rank."""
    if not ranks.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(ranks: Ranks, value) -> list:
    """Every rank's ``value``, in rank order, on every rank."""
    if not ranks.active:
        return [value]
    gathered = [None] * ranks.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def gather_rows(ranks: Ranks, part: torch.Tensor) -> torch.Tensor:
    """Each rank's ``part`` (rows on dim 0) concatenated in rank order, on every rank."""
    if not ranks.active:
        return part
    parts = gather_objects(ranks, part.cpu())
    return torch.cat(parts).to(part.device)
