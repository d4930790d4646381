"""Contract over every registered data set, driven by the registry: a new data set is covered the
moment it is registered.

Each loads with its defaults (a loader that reads a path writes a small example file first, its
registered ``example``), and must hold what ppgen's models, scoring and figures rely on: three
non-empty float splits of one width, finite values of the kind it declares (``values``), labels
that match the rows, typed facts that agree with the data (``image_shape``, ``num_levels``,
``mode_centers``), a true ``log_density`` that scores every row where it has one, and the same data
from the same seed. The preprocessing it declares it supports (``quantized_image``: binarization
and dequantization) must apply, and be refused where it does not.
"""

import math

import pytest
import torch

from ppgen import load_dataset
from ppgen.registry import DATASETS

NAMES = sorted(DATASETS.entries())


def load(name, directory, **options):
    entry = DATASETS.entry(name)
    example = entry.extra.get("example")
    if example is not None:
        options = {**example(directory), **options}
    return load_dataset(name, **options)


def check_splits(data) -> None:
    widths = {split.shape[1] for split in (data.train, data.val, data.test)}
    assert len(widths) == 1, f"splits of different widths {widths}"
    for split_name in ("train", "val", "test"):
        split = getattr(data, split_name)
        assert split.dim() == 2 and len(split) > 0, f"{split_name}: shape {tuple(split.shape)}"
        assert split.dtype == torch.float32, f"{split_name}: dtype {split.dtype}"
        assert torch.isfinite(split).all(), f"{split_name} has non-finite values"
        labels = getattr(data, f"{split_name}_labels")
        if labels is not None:
            assert labels.dtype == torch.int64 and labels.shape == (len(split),), split_name
            if data.num_classes is not None:
                assert 0 <= int(labels.min()) and int(labels.max()) < data.num_classes


def check_values(data) -> None:
    everything = torch.cat([data.train, data.val, data.test])
    if data.values == "binary":
        assert ((everything == 0) | (everything == 1)).all()
    elif data.values == "levels":
        assert data.num_levels is not None, "pixel levels without num_levels"
        assert (everything == everything.round()).all()
        assert 0 <= float(everything.min()) and float(everything.max()) < data.num_levels
    elif data.values == "unit":
        assert 0 <= float(everything.min()) and float(everything.max()) < 1


def check_facts(data, entry) -> None:
    assert data.is_quantized_image == bool(entry.extra.get("quantized_image")), (
        "the registration's quantized_image must say what the data holds (the CLI reads it)"
    )
    if data.image_shape is not None and data.kept_columns is None:
        assert math.prod(data.image_shape) == data.num_features
    if data.mode_centers is not None:
        assert data.mode_centers.shape[1] == data.num_features and data.mode_std > 0
    if data.log_density is not None:
        scores = data.log_density(data.test)
        assert scores.shape == (len(data.test),) and torch.isfinite(scores).all()


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_data_set_keeps_the_contract(name, tmp_path):
    check_data_set(name, tmp_path)


def check_data_set(name, directory) -> None:
    """The whole contract for the data set registered as ``name`` (module docstring)."""
    entry = DATASETS.entry(name)
    data = load(name, directory)
    assert data.name == name, data.name
    check_splits(data)
    check_values(data)
    check_facts(data, entry)
    again = load(name, directory)
    assert torch.equal(again.train, data.train), "the same seed must give the same data"
    if data.is_quantized_image:
        binary = load(name, directory, binarize="threshold")
        assert binary.values == "binary" and binary.train.shape == data.train.shape
        check_values(binary)
        unit = load(name, directory, dequantize=True)
        assert unit.values == "unit" and unit.dequantization_log_det > 0
        check_values(unit)
    else:
        with pytest.raises(ValueError, match="quantized image data"):
            load(name, directory, binarize="threshold")
