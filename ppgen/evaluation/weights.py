"""Per-datapoint log importance weights of a fitted pair, with the checks a public entry needs.

``log_importance_weights(model, x, S)`` is ``log p(x_n, z_s) - log q(z_s | x_n)`` for ``S`` draws
per data point, shape ``(S, num_points)``, built on :mod:`ppgen.inference.importance`. ``x`` is what
the programs take: a tensor of any shape (rows on dim 0), a tuple or dict of tensors, or ``None``;
keyword arguments go to both programs (tensors with one row per data point are split with the
rows when evaluating in chunks, e.g. the labels ``y`` of a class-conditional VAE).

Per-datapoint weights exist where every latent lies in the data plate and the program evaluates
every row. A program with global latents, or one that subsamples its own data plate, is refused
with the reason (its multi-sample bounds are trained on joint weights instead; see
:mod:`ppgen.inference.multi_sample`).
"""

from __future__ import annotations

import torch

from ..inference.batches import DataSpec
from ..inference.importance import weight_parts
from ..inference.program import ProgramError, inspect_program
from ..models.base import GenerativeModel, split_pair


def data_spec(model, x, kwargs: dict) -> DataSpec:
    """``x`` and ``kwargs`` as a :class:`DataSpec`: tensors in ``kwargs`` with one row per data
    point are batched with ``x``, the rest passed as they are."""
    if isinstance(model, GenerativeModel):
        x = model.check_data(x, "x")
    spec = DataSpec.from_data(x, name="x")
    rows = spec.num_rows
    batched = {
        k: v
        for k, v in kwargs.items()
        if isinstance(v, torch.Tensor) and v.dim() and rows is not None and len(v) == rows
    }
    unbatched = {k: v for k, v in kwargs.items() if k not in batched}
    return DataSpec(spec.batched_args, {**spec.batched_kwargs, **batched}, (), unbatched)


def check_num_samples(num_samples) -> None:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")


def point_program(model, args: tuple, kwargs: dict):
    """``(model_fn, guide_fn, data_plate, nesting)`` of a program with per-datapoint weights, read
    off one call; refuses the others (module docstring)."""
    model_fn, guide_fn, declared_plate, nesting = split_pair(model)
    rows = next((v.shape[0] for v in (*args, *kwargs.values()) if torch.is_tensor(v)), None)
    info = inspect_program(
        model_fn, guide_fn, args, kwargs, data_plate=declared_plate, num_rows=rows
    )
    if info.data_plate is None:
        raise ProgramError(
            "per-datapoint weights need a vectorized plate over the data points that every "
            f"observed site shares ({', '.join(info.observed)}); the program's plates: "
            f"{info.describe_plates()}"
        )
    if info.subsamples:
        raise ProgramError(
            f"the program subsamples its data plate {info.data_plate!r} ({info.num_points} of "
            f"{info.full_size} rows per call): per-datapoint values need every row; evaluate it "
            "with subsampling off (e.g. subsample_size=None through a model argument)"
        )
    if info.global_latents:
        raise ProgramError(
            f"latent site(s) {list(info.global_latents)} lie outside the data plate "
            f"{info.data_plate!r} (global latents): weights exist only for all points jointly, "
            "not per data point. Use ppgen.analysis.to_inference_data for the posterior and "
            "pointwise log-likelihoods at the guide's draws"
        )
    return model_fn, guide_fn, info.data_plate, info.nesting if nesting is None else nesting


class PointWeights:
    """``weights(args, kwargs, num_samples) -> (num_samples, num_points)`` for one pair; the
    program is inspected on the first call only (chunks of one evaluation share it)."""

    def __init__(self, model):
        self.model, self.program = model, None

    def __call__(self, args: tuple, kwargs: dict, num_samples: int) -> torch.Tensor:
        if self.program is None:
            self.program = point_program(self.model, args, kwargs)
        model_fn, guide_fn, data_plate, nesting = self.program
        return weight_parts(
            model_fn, guide_fn, args, kwargs, num_samples, data_plate, nesting
        ).log_w


def log_importance_weights(model, x, num_samples: int, **kwargs) -> torch.Tensor:
    """``log p(x, z_s) - log q(z_s | x)`` for ``num_samples`` draws ``z_s ~ q``, shape
    ``(num_samples, num_points)`` (module docstring). ``model`` is a
    :class:`~ppgen.models.GenerativeModel` or a ``(model, guide)`` pair."""
    from ..inference.param_scope import pair_params

    spec = data_spec(model, x, kwargs)
    check_num_samples(num_samples)
    model_fn, guide_fn, _, _ = split_pair(model)
    with pair_params(model_fn, guide_fn):
        args, call_kwargs = spec.call()
        return PointWeights(model)(args, call_kwargs, num_samples)
