"""Input checks shared by data loading, models, the trainer and evaluation.

Every entry point that takes data calls :func:`check_data` before doing any work, so that bad input
(NaN, wrong shape, wrong dtype or device, empty data, non-binary data for a Bernoulli likelihood)
fails at once with a message that names the problem, instead of surfacing later as a NaN loss or a
broadcasting error deep inside Pyro. Nothing is silently coerced: the caller converts explicitly.

Options are checked the same way: booleans are not numbers here (``steps=True`` is refused, though
``True == 1`` in Python), strings are not numbers or flags (``dequantize="no"`` is refused, though
it is truthy), and a seed must be one NumPy and PyTorch both accept (0 <= seed < 2**32).
"""

from __future__ import annotations

import math

import torch

from .registry import check_name  # noqa: F401  (re-exported: option checks use it)


def check_data(
    x,
    *,
    name: str = "data",
    event_dim: int | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | None = None,
    binary: bool = False,
    unit_interval: bool = False,
) -> torch.Tensor:
    """Check that ``x`` is a non-empty, finite, floating-point ``(num_points, event_dim)`` tensor.

    Args:
        x: the data to check.
        name: how to refer to ``x`` in error messages (``"training data"``, ``"x"``...).
        event_dim: the required size of the last dimension, or ``None`` to accept any.
        dtype: the required floating dtype (the model's), or ``None`` for any floating dtype.
        device: the required device (the model's), or ``None`` for any.
        binary: require every entry to be exactly 0 or 1 (Bernoulli likelihoods).
        unit_interval: require every entry to lie in [0, 1] (continuous Bernoulli likelihoods,
            flows with a logit pre-transform).

    Returns:
        ``x`` itself, unchanged.

    Raises:
        TypeError: ``x`` is not a tensor, or has an integer/boolean dtype, or the wrong dtype.
        ValueError: wrong shape, empty, NaN/inf entries, non-binary or out-of-[0, 1] entries,
            wrong device.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (num_points, num_features), "
            f"got {type(x).__name__}; convert with torch.as_tensor(x, dtype=torch.float32)"
        )
    check_has_values(x, name)
    if not x.is_floating_point():
        raise TypeError(
            f"{name} has dtype {x.dtype}; ppgen models need floating-point data. "
            "Convert explicitly, e.g. x.float() (raw pixel counts) or x.float() / 255."
        )
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} but the model's parameters are {dtype}; "
            f"convert with x.to({dtype}) or the model with model.to({x.dtype})"
        )
    if x.dim() != 2:
        raise ValueError(
            f"{name} must have shape (num_points, num_features), got shape {tuple(x.shape)}; "
            "flatten images with x.reshape(len(x), -1)"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}): there is nothing to fit")
    if event_dim is not None and x.shape[1] != event_dim:
        raise ValueError(
            f"{name} has {x.shape[1]} features per point but the model expects {event_dim}"
        )
    if device is not None and x.device != torch.device(device):
        raise ValueError(
            f"{name} is on {x.device} but the model is on {device}; "
            f"move one of them explicitly, e.g. x.to('{device}')"
        )
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        count = int((~finite).sum())
        raise ValueError(
            f"{name} contains {count} NaN or infinite value(s), the first at row {bad[0]}, "
            f"column {bad[1]}"
        )
    if binary:
        nonbinary = (x != 0) & (x != 1)
        if bool(nonbinary.any()):
            row, col = nonbinary.nonzero()[0].tolist()
            raise ValueError(
                f"{name} must be binary (0 or 1) for a Bernoulli likelihood, but entry "
                f"[{row}, {col}] is {x[row, col].item():g}; load it with binarize="
                "'threshold', 'fixed' or 'dynamic'"
            )
    if unit_interval:
        outside = (x < 0) | (x > 1)
        if bool(outside.any()):
            row, col = outside.nonzero()[0].tolist()
            raise ValueError(
                f"{name} must lie in [0, 1] for this likelihood, but entry [{row}, {col}] is "
                f"{x[row, col].item():g}; scale pixels to [0, 1] (e.g. load_dataset(..., "
                "dequantize=True))"
            )
    return x


#: The largest seed: NumPy's seeding (behind ``pyro.set_rng_seed``) takes 32-bit seeds.
MAX_SEED = 2**32 - 1


def check_positive_int(value, name: str, allow_none: bool = True) -> None:
    """``value`` must be an int >= 1 (not a bool), or ``None`` where allowed."""
    if value is None and allow_none:
        return
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def is_int(value) -> bool:
    """An int that is not a bool (``True == 1`` in Python, but not a count here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_int_at_least(value, name: str, minimum: int, allow_none: bool = False) -> None:
    """``value`` must be an int >= ``minimum`` (not a bool), or ``None`` where allowed."""
    if value is None and allow_none:
        return
    if not is_int(value) or value < minimum:
        suffix = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an int >= {minimum}{suffix}, got {value!r}")


def check_int_in(value, name: str, low: int, high: int) -> None:
    """``value`` must be an int in ``low..high`` (not a bool)."""
    if not is_int(value) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in {low}..{high}, got {value!r}")


def check_positive_ints(values, name: str) -> list[int]:
    """``values`` must be a non-empty sequence of positive ints (layer sizes); returns a list."""
    values = list(values) if isinstance(values, (list, tuple)) else values
    if not isinstance(values, list) or not values or not all(is_int(v) and v > 0 for v in values):
        raise ValueError(f"{name} must be a non-empty list of positive ints, got {values!r}")
    return values


def check_positive_number(value, name: str, allow_none: bool = True) -> None:
    """``value`` must be a finite int or float > 0 (not a bool), or ``None`` where allowed."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def check_real(value, name: str) -> float:
    """``value`` must be a finite int or float (not a bool); returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_seed(seed, name: str = "seed") -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be an int from 0 to 2**32 - 1, got {seed!r}")


def check_flag(value, name: str) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def check_has_values(x: torch.Tensor, name: str) -> None:
    """Data on PyTorch's ``meta`` device has a shape but no values: nothing to train on."""
    if x.device.type == "meta":
        raise ValueError(
            f"{name} is on the meta device: it has a shape but no values; load the data onto "
            "'cpu' or 'cuda'"
        )


def check_not_tracking_gradients(x: torch.Tensor, name: str) -> None:
    """Data must not require gradients: training would write gradients into the caller's
    tensor (and keep its graph alive)."""
    if x.requires_grad:
        raise ValueError(
            f"{name} requires gradients (requires_grad=True); training would write gradients "
            "into it. Pass a detached tensor, x.detach()"
        )


def probe_writable(probe) -> None:
    """Create the folders above ``probe`` (a path) and write and delete an empty file there:
    whether outputs can be written, checked before any training. Raises ``OSError``."""
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_bytes(b"")
    probe.unlink()


def constant_columns(x: torch.Tensor) -> list[int]:
    """Indices of the columns of ``x`` whose values are all equal (zero variance)."""
    return (x == x[:1]).all(dim=0).nonzero().flatten().tolist()
