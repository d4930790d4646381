"""The data of a run: what ``fit`` was given, as the specs of its training and validation calls.

``fit`` takes data in many forms (:mod:`ppgen.program.data_spec`): a ppgen model's rows or
:class:`~ppgen.data.Dataset`, a plain pair's tensors, tuples, dicts, torch datasets, or a streamed
``DataLoader``. :func:`prepare_data` turns them into a :class:`FitData` once, checked and on the
run's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from ..data import Dataset
from ..models.base import GenerativeModel
from ..program.data_spec import DataSpec
from ..validation import check_has_values
from .streaming import StreamedSpec, is_streamed

#: Rows per step unless told (``batch_size="auto"``) and the data brings none (a DataLoader's).
DEFAULT_BATCH_SIZE = 128


@dataclass(frozen=True)
class FitData:
    """The training spec, the validation spec (or ``None``), and the model's exact
    ``log_prob`` where it has one (validation reports ``val_log_lik`` with it)."""

    train: DataSpec
    val: DataSpec | None
    exact_log_prob: object = None

    @property
    def streamed(self) -> bool:
        return isinstance(self.train, StreamedSpec)

    def rows_per_step(self, setting) -> int | None:
        """``batch_size`` as rows: ``"auto"`` is a DataLoader's own batch size, else
        ``DEFAULT_BATCH_SIZE``; ``None``: all rows; at most the number of rows."""
        spec = self.train
        if spec.num_rows is None:
            return None
        if setting == "auto":
            setting = spec.loader_batch_size or DEFAULT_BATCH_SIZE
        return None if setting is None else min(setting, spec.num_rows)


def prepare_data(model, data, val_data, model_args, model_kwargs, device) -> FitData:
    """The :class:`FitData` of ``fit(model, data, val_data=..., model_args=..., ...)``."""
    for name, value in (("data", data), ("val_data", val_data)):
        if isinstance(value, torch.Tensor):  # before any .to(device), which fails on meta
            check_has_values(value, name)
    return FitData(*_data_specs(model, data, val_data, model_args, model_kwargs, device))


def _data_specs(model, data, val_data, model_args, model_kwargs, device):
    """``(train spec, validation spec or None, exact log-prob function or None)``."""
    if isinstance(model, GenerativeModel):
        if model_args or model_kwargs:
            raise ValueError(f"{type(model).__name__} takes no model_args or model_kwargs")
        if data is None:
            raise ValueError(f"{type(model).__name__} needs data: a Dataset or a tensor")
        if is_streamed(data):
            return _streamed_specs(model, data, val_data, device)
        data = data.to(device) if isinstance(data, (Dataset, torch.Tensor)) else data
        val_data = val_data.to(device) if isinstance(val_data, torch.Tensor) else val_data
        parts = model.fit_data(data, val_data)
        spec = DataSpec((parts["train"],), parts["train_kwargs"], dataset=parts["dataset"])
        val_spec = None
        if parts["val"] is not None:
            val_spec = DataSpec((parts["val"],), parts["val_kwargs"])
        exact = model.log_prob if model.has_exact_log_prob else None
        return spec, val_spec, exact
    if isinstance(data, Dataset):  # a ppgen Dataset for a plain pair: its train rows, redrawn
        if val_data is None:
            val_data = data.val
        data = data.to(device)
        spec = DataSpec((data.train,), {}, model_args, model_kwargs, dataset=data)
    elif is_streamed(data):
        spec = StreamedSpec(data, model_args, model_kwargs).to(device)
    else:
        spec = DataSpec.from_data(data, model_args, model_kwargs).to(device)
    val_spec = None
    if val_data is not None:
        val_spec = DataSpec.from_data(val_data, model_args, model_kwargs, name="val_data")
        val_spec = val_spec.to(device)
        if len(val_spec.batched_args) != len(spec.batched_args) or set(
            val_spec.batched_kwargs
        ) != set(spec.batched_kwargs):
            raise ValueError("val_data must have the same form as data (tensors and names)")
    return spec, val_spec, None


def _streamed_specs(model, data, val_data, device):
    """A ppgen model's specs for streamed training data (:mod:`ppgen.training.streaming`): each
    batch checked by the model as it arrives; validation data is a tensor (or ``None``)."""
    source = data.dataset if isinstance(data, DataLoader) else data
    if callable(getattr(source, "chunks", None)):  # a whole pass is cheap: check it all now
        model.check_streamed_training_data(source.chunks())
    spec = StreamedSpec(data, check=model.check_data).to(device)
    val_spec = None
    if val_data is not None:
        val_spec = DataSpec((model.check_data(val_data, "validation data").to(device),))
    return spec, val_spec, model.log_prob if model.has_exact_log_prob else None
