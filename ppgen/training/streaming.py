"""Data that does not fit in memory: batches read as training needs them, through a DataLoader.

:class:`StreamedSpec` stands in for a :class:`~ppgen.program.data_spec.DataSpec` when ``fit`` is
given a ``DataLoader`` over a map-style ``Dataset`` (other than a ``TensorDataset``, which is in
memory already) or a data set that asks to be streamed (:class:`~ppgen.data.NpyRows`). Rows are
visited in ppgen's seeded order (:class:`~ppgen.training.batch_order.BatchOrder`; each rank its part
of every global batch), not the loader's own sampler, so that a run is reproducible, resumable
and data-parallel exactly as with tensors; what the loader brings is its workers, ``collate_fn``,
pinned memory and prefetching. To prefetch, the loader's batch sampler walks a copy of the order
ahead of training; each batch it reads is checked against the rows the step asks for, and on any
mismatch (the first step, a resumed run) the step reads its rows directly and the look-ahead
restarts from the order's current place.

Peak memory is that of the batches in flight (``prefetch_factor x num_workers``), not of the data
set. Every batch is checked as it arrives (finite values; the model's own data checks for a ppgen
model); a data set that can be checked whole in one streaming pass, as ``NpyRows`` does, is
refused before training.
"""

from __future__ import annotations

from collections import deque

import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset, default_collate

from ..program.data_spec import check_tensor
from .batch_order import BatchOrder


def is_streamed(data) -> bool:
    """Whether ``fit`` streams ``data`` (module docstring)."""
    if isinstance(data, DataLoader):
        return not isinstance(data.dataset, TensorDataset)
    return bool(getattr(data, "streamed", False))


def copy_order(order: BatchOrder) -> BatchOrder:
    """An independent copy of ``order`` at its current place (its own generator)."""
    generator = torch.Generator(device=order.generator.device)
    generator.set_state(order.generator.get_state())
    copy = BatchOrder(order.num_rows, order.batch_size, generator, order.device)
    copy.load(
        {
            "order": None if order.order is None else order.order.clone(),
            **{"position": order.position},
        }
    )
    return copy


class _LookAhead(Sampler):
    """Yields this rank's rows of every coming step, from a copy of the order; remembers them."""

    def __init__(self, order: BatchOrder, ranks, pending: deque):
        self.order, self.ranks, self.pending = order, ranks, pending

    def __iter__(self):
        while True:
            index = self.order.next_index()
            offset, length = self.ranks.part(len(index))
            rows = index[offset : offset + length].tolist()
            self.pending.append(rows)
            yield rows


class StreamedSpec:
    """The data of a call, read batch by batch from ``loader.dataset`` (module docstring).
    ``check``: a ppgen model's own check of a batch (``model.check_data``), or ``None``."""

    def __init__(self, loader, model_args=(), model_kwargs=None, check=None, name="data"):
        if not isinstance(loader, DataLoader):
            loader = DataLoader(loader, batch_size=None)
        self.loader, self.source = loader, loader.dataset
        self.model_args, self.model_kwargs = tuple(model_args), dict(model_kwargs or {})
        self.check, self.name = check, name
        self.loader_batch_size = loader.batch_size
        # A plain function (workers receive it by pickle): the loader's own, or the default.
        self.collate = loader.collate_fn if loader.batch_size is not None else default_collate
        self.dataset = None  # no ppgen per-batch redraw
        if not hasattr(self.source, "__len__") or len(self.source) == 0:
            raise ValueError(f"{name} must be a non-empty map-style Dataset (with __len__)")
        self.num_rows = len(self.source)
        self.device = torch.device("cpu")
        self.order = self.ranks = self.iterator = None
        self.pending: deque = deque()
        sample = self.fetch([0])
        self.batched_args = sample[0][: len(sample[0]) - len(self.model_args)]
        self.batched_kwargs = {k: v for k, v in sample[1].items() if k not in self.model_kwargs}

    # ----- reading ----------------------------------------------------------------------------
    def fetch(self, rows) -> tuple[tuple, dict]:
        """``(args, kwargs)`` for ``rows`` (ints), read directly, checked, on the device."""
        rows = [int(i) for i in rows]
        getitems = getattr(self.source, "__getitems__", None)
        items = getitems(rows) if getitems is not None else [self.source[i] for i in rows]
        return self.arguments(self.collate(items))

    def arguments(self, batch) -> tuple[tuple, dict]:
        """A collated batch as the call's ``(args, kwargs)``, checked and on the device."""
        pinned = self.loader.pin_memory and self.device.type == "cuda"

        def move(value, where):
            tensor = check_tensor(value, f"{self.name} ({where})")
            return tensor.to(self.device, non_blocking=pinned)

        if isinstance(batch, torch.Tensor):
            args, kwargs = (move(batch, "rows"),), {}
        elif isinstance(batch, (tuple, list)):
            args, kwargs = tuple(move(t, f"item {i}") for i, t in enumerate(batch)), {}
        elif isinstance(batch, dict):
            args, kwargs = (), {k: move(v, repr(k)) for k, v in batch.items()}
        else:
            raise TypeError(
                f"{self.name}'s items must be tensors, tuples or dicts of tensors, got "
                f"{type(batch).__name__}"
            )
        if self.check is not None and args:
            args = (self.check(args[0], self.name), *args[1:])
        return (*args, *self.model_args), {**kwargs, **self.model_kwargs}

    # ----- the DataSpec interface -------------------------------------------------------------
    @property
    def first(self) -> torch.Tensor:
        args, kwargs = self.fetch([0])
        return next(iter([*args[: len(self.batched_args)], *self.batched_kwargs.values()]))

    def to(self, device) -> StreamedSpec:
        self.device = torch.device(device)
        return self

    def bind(self, order: BatchOrder, ranks) -> None:
        """The live order of training steps, which the look-ahead copies."""
        self.order, self.ranks = order, ranks

    def call(self, index=None, generator=None, part=None) -> tuple[tuple, dict]:
        if index is None:
            raise ValueError(
                f"{self.name} is streamed and cannot be passed whole; train on minibatches "
                "(batch_size=B)"
            )
        rows = (index if part is None else index[part]).tolist()
        if self.iterator is not None:
            batch = next(self.iterator)  # the batch of the oldest rows the look-ahead asked for
            if self.pending.popleft() == rows:
                return self.arguments(batch)
        if self.order is not None:
            self.restart()
        return self.fetch(rows)

    def restart(self) -> None:
        """Start the loader anew, looking ahead from the order's current place."""
        self.close()
        sampler = _LookAhead(copy_order(self.order), self.ranks, self.pending)
        loader = self.loader
        options = {}
        if loader.num_workers > 0:
            options = {"prefetch_factor": loader.prefetch_factor, "persistent_workers": False}
        self.iterator = iter(
            DataLoader(
                self.source,
                batch_sampler=sampler,
                num_workers=loader.num_workers,
                collate_fn=self.collate,
                pin_memory=loader.pin_memory and self.device.type == "cuda",
                worker_init_fn=loader.worker_init_fn,
                # Its own generator: the loader seeds its workers by drawing from one, and the
                # global one belongs to the programs' noise.
                generator=torch.Generator().manual_seed(0),
                multiprocessing_context=loader.multiprocessing_context,
                **options,
            )
        )

    def chunks(self, size: int | None, rows: range | None = None):
        rows = range(self.num_rows) if rows is None else rows
        size = size or max(len(rows), 1)
        for start in range(rows.start, rows.stop, size):
            yield self.fetch(range(start, min(start + size, rows.stop)))

    def close(self) -> None:
        """Stop the loader's workers."""
        self.iterator = None
        self.pending.clear()
