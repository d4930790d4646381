"""The data-set registry and :func:`load_dataset`, the one entry point for data.

A loader is registered under a name with the options it accepts; :func:`load_dataset` calls it,
then applies the generic preprocessing (constant-column removal, binarization, dequantization) that
quantized image data sets support. To add a data set, write a loader returning a
:class:`~ppgen.data.Dataset` (raw pixel levels plus ``meta["num_levels"]`` for images) and
register it with :func:`register_dataset`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path

from ..validation import (
    check_flag,
    check_name,
    check_positive_int,
    check_positive_number,
    check_seed,
)
from . import preprocessing
from .dataset import Dataset
from .digits import load_digits
from .files import load_file_dataset
from .linear_gaussian import load_linear_gaussian
from .mnist import load_mnist
from .toy2d import TOY_DENSITIES, load_toy2d

_LOADERS: dict[str, Callable[..., Dataset]] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_dataset(name: str, loader: Callable[..., Dataset], description: str) -> None:
    """Register ``loader(**options)`` (it may take ``seed``) under ``name``."""
    if name in _LOADERS:
        raise ValueError(f"a data set named {name!r} is already registered")
    _LOADERS[name] = loader
    _DESCRIPTIONS[name] = description


def available_datasets() -> dict[str, str]:
    """Registered data-set names with a one-line description each."""
    return dict(sorted(_DESCRIPTIONS.items()))


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
    check_name(name, _LOADERS, "data set")
    check_flag(dequantize, "dequantize")
    check_flag(drop_constant, "drop_constant")
    check_seed(seed)
    if binarize is not None:
        check_name(binarize, preprocessing.BINARIZE_SCHEMES, "binarization scheme")
    _check_loader_options(options)
    loader = _LOADERS[name]
    accepted = set(inspect.signature(loader).parameters) - {"seed"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for data set {name!r}; "
            f"it accepts {', '.join(sorted(accepted)) or 'none'}"
        )
    if "seed" in inspect.signature(loader).parameters:
        options["seed"] = seed
    data = loader(**options)

    is_image = "num_levels" in data.meta
    if (binarize is not None or dequantize) and not is_image:
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
        if key in options:
            check_positive_int(options[key], key)
    for key in _SCALES:
        if key in options:
            check_positive_number(options[key], key)
    if "path" in options and not isinstance(options["path"], (str, Path)):
        raise TypeError(f"path must be a file path, got {options['path']!r}")


register_dataset("digits", load_digits, "scikit-learn's 8x8 digits, levels 0..16 (bundled)")
register_dataset(
    "file", load_file_dataset, "your own rows from path= (.npy, .npz, .pt or .csv), never pickled"
)
register_dataset("mnist", load_mnist, "MNIST / Fashion-MNIST from a local path= (IDX or npz)")
register_dataset(
    "linear_gaussian",
    load_linear_gaussian,
    "synthetic linear-Gaussian factor data with known W, noise and latent dimension",
)
_TOY_DESCRIPTIONS = {
    "ring8": "8 Gaussians (std 0.02) on a circle of radius 2, exact density",
    "grid25": "25 Gaussians (std 0.05) on a 5x5 grid, exact density",
    "8gaussians": "FFJORD's 8 Gaussians, exact density",
    "moons": "two noisy half circles, density by quadrature",
}
for _name in TOY_DENSITIES:
    register_dataset(_name, functools.partial(load_toy2d, _name), _TOY_DESCRIPTIONS[_name])
