"""Data as a Pyro program takes it, and the order in which ``fit`` visits its rows.

:class:`DataSpec` turns what a user passes as ``data`` into the arguments of each call:

- a tensor of any shape (rows on dim 0): ``model(x_batch)``;
- a tuple of tensors batched together: ``model(a_batch, b_batch)``; a dict: keyword arguments;
- a ``torch.utils.data.Dataset`` (its items collated once, as a ``DataLoader`` would) or a
  ``DataLoader`` (its dataset, and its ``batch_size`` unless ``fit`` is given one); ``fit``
  streams a ``DataLoader`` over anything but a ``TensorDataset`` instead
  (:mod:`ppgen.training.streaming`);
- a ppgen :class:`~ppgen.data.Dataset` (its ``train`` split, redrawn per batch where its
  preprocessing is stochastic, with labels for a class-conditional model);
- ``None``: a program that takes no data.

``model_args`` / ``model_kwargs`` are passed unbatched to every call, after the batched ones.

:class:`BatchOrder` walks the rows: one seeded permutation per epoch for minibatches, and the rows
in their own order for full-batch training, so that parameters indexed by row stay with their rows.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset, default_collate

from ..data import Dataset
from ..models.base import GenerativeModel
from ..validation import check_has_values, check_not_tracking_gradients


def check_tensor(value, name: str) -> torch.Tensor:
    """A batched data tensor: non-empty, finite where floating, not complex. Boolean tensors
    pass (masks); the likelihood's own checks decide what values it accepts."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}; convert it explicitly, "
            "e.g. torch.as_tensor(value, dtype=torch.float32)"
        )
    check_has_values(value, name)
    if value.dim() == 0:
        raise ValueError(f"{name} is a scalar; batched data needs rows on dim 0")
    if value.shape[0] == 0 or value.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(value.shape)}): there is nothing to fit")
    if value.is_complex():
        raise TypeError(f"{name} has dtype {value.dtype}; ppgen's programs take real tensors")
    check_not_tracking_gradients(value, name)
    if value.is_floating_point():
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            where = tuple((~finite).nonzero()[0].tolist())
            raise ValueError(
                f"{name} contains {int((~finite).sum())} NaN or infinite value(s), the first at "
                f"index {where}"
            )
    return value


def _collate_dataset(dataset) -> object:
    if isinstance(dataset, IterableDataset):
        raise TypeError(
            "an IterableDataset has no length or row index; pass a map-style Dataset or tensors"
        )
    if isinstance(dataset, TensorDataset):
        return tuple(dataset.tensors)
    if not hasattr(dataset, "__len__"):
        raise TypeError(f"{type(dataset).__name__} has no __len__; pass a map-style Dataset")
    if len(dataset) == 0:
        raise ValueError(f"the {type(dataset).__name__} is empty: there is nothing to fit")
    batch = default_collate([dataset[i] for i in range(len(dataset))])
    return tuple(batch) if isinstance(batch, list) else batch


class DataSpec:
    """The data of a call, split into batched and unbatched arguments (module docstring)."""

    def __init__(
        self,
        batched_args: tuple = (),
        batched_kwargs: dict | None = None,
        model_args: tuple = (),
        model_kwargs: dict | None = None,
        *,
        dataset: Dataset | None = None,
        loader_batch_size: int | None = None,
    ):
        self.batched_args = tuple(batched_args)
        self.batched_kwargs = dict(batched_kwargs or {})
        self.model_args = tuple(model_args)
        self.model_kwargs = dict(model_kwargs or {})
        self.dataset = dataset  # a ppgen Dataset whose first argument is redrawn per batch
        self.loader_batch_size = loader_batch_size
        clash = sorted(set(self.batched_kwargs) & set(self.model_kwargs))
        if clash:
            raise ValueError(f"keyword(s) {clash} are both in data and in model_kwargs")
        sizes = {name: len(t) for name, t in self.named_tensors()}
        if len(set(sizes.values())) > 1:
            raise ValueError(
                "batched data must have the same number of rows in every tensor, got "
                + ", ".join(f"{n}: {s}" for n, s in sizes.items())
            )
        self.num_rows = next(iter(sizes.values())) if sizes else None

    # ----- construction -----------------------------------------------------------------------
    @classmethod
    def from_data(cls, data, model_args=(), model_kwargs=None, *, name: str = "data"):
        """A :class:`DataSpec` for any accepted form of ``data`` (module docstring)."""
        if not isinstance(model_args, (tuple, list)):
            raise TypeError(f"model_args must be a tuple, got {type(model_args).__name__}")
        if model_kwargs is not None and not isinstance(model_kwargs, dict):
            raise TypeError(f"model_kwargs must be a dict, got {type(model_kwargs).__name__}")
        loader_batch_size = None
        if isinstance(data, DataLoader):
            loader_batch_size = data.batch_size
            data = data.dataset
        if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, Dataset):
            data = _collate_dataset(data)
        if data is None:
            spec = cls((), {}, model_args, model_kwargs)
        elif isinstance(data, torch.Tensor):
            spec = cls((check_tensor(data, name),), {}, model_args, model_kwargs)
        elif isinstance(data, (tuple, list)):
            if not data:
                raise ValueError(f"{name} is an empty tuple; pass None for a data-free program")
            tensors = tuple(check_tensor(t, f"{name}[{i}]") for i, t in enumerate(data))
            spec = cls(tensors, {}, model_args, model_kwargs)
        elif isinstance(data, dict):
            if not data:
                raise ValueError(f"{name} is an empty dict; pass None for a data-free program")
            for key in data:
                if not isinstance(key, str):
                    raise TypeError(f"{name} keys must be argument names (str), got {key!r}")
            tensors = {k: check_tensor(v, f"{name}[{k!r}]") for k, v in data.items()}
            spec = cls((), tensors, model_args, model_kwargs)
        else:
            raise TypeError(
                f"{name} must be a tensor, a tuple or dict of tensors, a torch Dataset or "
                f"DataLoader, a ppgen Dataset, or None; got {type(data).__name__}"
            )
        spec.loader_batch_size = loader_batch_size
        return spec

    @classmethod
    def for_call(cls, model, x, kwargs: dict) -> DataSpec:
        """The data of an evaluation call: ``x`` in any accepted form (a ppgen model's checked
        as its own data), and ``kwargs``, of which tensors with one row per data point (labels)
        are batched with ``x`` and the rest passed as they are."""

        if isinstance(model, GenerativeModel):
            x = model.check_data(x, "x")
        spec = cls.from_data(x, name="x")
        rows = spec.num_rows
        batched = {
            k: v
            for k, v in kwargs.items()
            if isinstance(v, torch.Tensor) and v.dim() and rows is not None and len(v) == rows
        }
        unbatched = {k: v for k, v in kwargs.items() if k not in batched}
        return cls(spec.batched_args, {**spec.batched_kwargs, **batched}, (), unbatched)

    # ----- access -----------------------------------------------------------------------------
    def named_tensors(self):
        for i, tensor in enumerate(self.batched_args):
            yield f"argument {i}", tensor
        yield from self.batched_kwargs.items()

    @property
    def first(self) -> torch.Tensor | None:
        """The first batched tensor (what ppgen models call ``x``), or ``None``."""
        return next((t for _, t in self.named_tensors()), None)

    def to(self, device) -> DataSpec:
        spec = DataSpec(
            tuple(t.to(device) for t in self.batched_args),
            {k: v.to(device) for k, v in self.batched_kwargs.items()},
            self.model_args,
            self.model_kwargs,
            dataset=None if self.dataset is None else self.dataset.to(device),
            loader_batch_size=self.loader_batch_size,
        )
        return spec

    def call(
        self, index: torch.Tensor | None = None, generator=None, part: slice | None = None
    ) -> tuple[tuple, dict]:
        """``(args, kwargs)`` for the rows ``index`` (``None``: all rows, in order); ``part``
        keeps a slice of them (a rank's share of a global batch, whose per-batch redraw is drawn
        for the whole batch, as one process would)."""
        rows = index if index is None or part is None else index[part]

        def take(t):
            return t if rows is None else t[rows]

        args = [take(t) for t in self.batched_args]
        if self.dataset is not None and index is not None:
            redrawn = self.dataset.train_batch(index, generator)
            args[0] = redrawn if part is None else redrawn[part]
        kwargs = {k: take(v) for k, v in self.batched_kwargs.items()}
        return (*args, *self.model_args), {**kwargs, **self.model_kwargs}

    def chunks(self, size: int | None, rows: range | None = None):
        """``(args, kwargs)`` for consecutive chunks of ``size`` rows (all at once for ``None``
        or unbatched data); ``rows``: only these (a rank's share), else all."""
        if self.num_rows is None or (size is None and rows is None):
            yield self.call()
            return
        rows = range(self.num_rows) if rows is None else rows
        size = size or max(len(rows), 1)
        for start in range(rows.start, rows.stop, size):
            index = torch.arange(start, min(start + size, rows.stop))
            yield self.call(index.to(self.first.device))
