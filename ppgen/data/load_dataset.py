""":func:`load_dataset`, the one entry point for data, over the registry of loaders
(:data:`ppgen.registry.DATASETS`).

A loader is registered in its own file under a name, with the options it accepts (its keyword
arguments); :func:`load_dataset` checks the options, calls it, then applies the generic
preprocessing (constant-column removal, binarization, dequantization) that quantized image data
sets support. The recipe for a new data set is in ``CONTRIBUTING.md``: a loader returning a
:class:`~ppgen.data.Dataset` with its typed facts (raw pixel levels with ``num_levels`` and
``image_shape`` for images, ``mode_centers`` for mixtures, ``log_density`` where known), and
``DATASETS.register(name, loader, description=..., quantized_image=..., example=...)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from ..registry import DATASETS, accepted_options, check_name
from ..validation import check_flag, check_positive_int, check_positive_number, check_seed
from . import preprocessing
from .dataset import Dataset


def register_dataset(name: str, loader: Callable[..., Dataset], description: str, **facts) -> None:
    """Register ``loader(**options)`` (it may take ``seed``) under ``name``: the same as
    ``DATASETS.register(name, loader, description=description, **facts)``."""
    DATASETS.register(name, loader, description=description, stacklevel=2, **facts)


def available_datasets() -> dict[str, str]:
    """Registered data-set names with a one-line description each."""
    return DATASETS.descriptions()


def load_dataset(
    name: str,
    *,
    binarize: str | None = None,
    dequantize: bool = False,
    drop_constant: bool = False,
    seed: int = 0,
    **options,
) -> Dataset:
    """Load the data set ``name`` with train/val/test splits as float tensors.

    Args:
        name: a registered name (see :func:`available_datasets`): ``digits``, ``mnist``,
            ``ring8``, ``grid25``, ``8gaussians``, ``moons``, ``linear_gaussian``.
        binarize: ``None`` (raw values), ``"threshold"``, ``"fixed"`` or ``"dynamic"``; image
            data only (see :mod:`ppgen.data.preprocessing`).
        dequantize: add uniform noise to integer pixel levels and rescale to [0, 1); image data.
        drop_constant: remove columns that are constant in all splits (``meta["kept_columns"]``
            records the others).
        seed: seeds stochastic binarization, dequantization and synthetic data.
        **options: loader-specific options, e.g. ``path=`` for ``mnist``, ``num_train=`` for
            the 2-D toys, ``latent_dim=`` for ``linear_gaussian``.

    Raises:
        ValueError: unknown name, unknown option, or preprocessing that does not apply.
    """
    loader = DATASETS.get(name)
    check_flag(dequantize, "dequantize")
    check_flag(drop_constant, "drop_constant")
    check_seed(seed)
    if binarize is not None:
        check_name(binarize, preprocessing.BINARIZE_SCHEMES, "binarization scheme")
    _check_loader_options(options)
    accepted = set(accepted_options(loader)[0]) - {"seed"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for data set {name!r}; "
            f"it accepts {', '.join(sorted(accepted)) or 'none'}"
        )
    if "seed" in inspect.signature(loader).parameters:
        options["seed"] = seed
    data = loader(**options)

    if (binarize is not None or dequantize) and not data.is_quantized_image:
        raise ValueError(
            f"binarize/dequantize apply to quantized image data (digits, mnist), not {name!r}"
        )
    if binarize is not None and dequantize:
        raise ValueError("choose binarize or dequantize, not both")
    if drop_constant:
        data = preprocessing.drop_constant_columns(data)
    if binarize is not None:
        data = preprocessing.binarize(data, binarize, seed)
    if dequantize:
        data = preprocessing.dequantize(data, seed)
    return data


#: Loader options that are counts or sizes (positive ints; ``None`` keeps a loader's default).
_COUNTS = ("num_train", "num_val", "num_test", "data_dim", "latent_dim")
#: Loader options that are positive finite numbers.
_SCALES = ("noise_std",)


def _check_loader_options(options: dict) -> None:
    for key in _COUNTS:
        if key in options:  # given means given: None is not a count (leave it out instead)
            check_positive_int(options[key], key, allow_none=False)
    for key in _SCALES:
        if key in options:
            check_positive_number(options[key], key)
    if "path" in options and not isinstance(options["path"], (str, Path)):
        raise TypeError(f"path must be a file path, got {options['path']!r}")
