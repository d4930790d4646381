"""digits: the fixed splits, the constant pixels, and the four binarization schemes."""

import torch
from sklearn.datasets import load_digits

from ppgen import load_dataset


def test_splits_are_the_design_rows():
    data = load_dataset("digits")
    raw = torch.as_tensor(load_digits().data, dtype=torch.float32)
    assert torch.equal(data.train, raw[:1000])
    assert torch.equal(data.val, raw[1000:1350])
    assert torch.equal(data.test, raw[1350:])
    assert data.train.dtype == torch.float32 and data.train.max() == 16
    assert data.train_labels.shape == (1000,) and data.meta["image_shape"] == (8, 8)


def test_drop_constant_removes_the_three_blank_pixels():
    data = load_dataset("digits", drop_constant=True)
    assert data.num_features == 61
    assert data.meta["dropped_columns"] == [0, 32, 39]
    assert len(data.meta["kept_columns"]) == 61 and 32 not in data.meta["kept_columns"]


def test_threshold_is_pixel_at_least_8_of_16():
    raw, binary = load_dataset("digits"), load_dataset("digits", binarize="threshold")
    assert torch.equal(binary.test, (raw.test >= 8).float())


def test_fixed_binarization_is_seeded_and_stored():
    a = load_dataset("digits", binarize="fixed", seed=1)
    b = load_dataset("digits", binarize="fixed", seed=1)
    c = load_dataset("digits", binarize="fixed", seed=2)
    assert torch.equal(a.train, b.train) and not torch.equal(a.train, c.train)
    assert set(a.train.unique().tolist()) == {0.0, 1.0}
    # A stochastic binarization has mean intensity / 16 in expectation: ~0.30 on digits.
    raw = load_dataset("digits")
    assert abs(a.train.mean() - raw.train.mean() / 16) < 0.005
    assert a.redraw is None


def test_dynamic_binarization_draws_fresh_batches():
    data = load_dataset("digits", binarize="dynamic")
    index = torch.arange(200)
    generator = torch.Generator().manual_seed(0)
    first, second = data.train_batch(index, generator), data.train_batch(index, generator)
    assert not torch.equal(first, second)
    assert set(first.unique().tolist()) == {0.0, 1.0}
    # Fresh draws are Bernoulli(level / 16): the mean over many draws matches the intensities.
    draws = torch.stack([data.train_batch(index, generator) for _ in range(400)]).mean(0)
    assert (draws - data.train_source[index]).abs().max() < 0.15


def test_dequantize_maps_levels_into_unit_interval_without_losing_them():
    raw, data = load_dataset("digits"), load_dataset("digits", dequantize=True)
    assert data.train.min() >= 0 and data.train.max() < 1
    assert torch.equal((data.train * 17).floor(), raw.train)
    generator = torch.Generator().manual_seed(0)
    fresh = data.train_batch(torch.arange(10), generator)
    assert torch.equal((fresh * 17).floor(), raw.train[:10]) and not torch.equal(
        fresh, data.train[:10]
    )
    assert abs(data.meta["dequantization_log_det"] - 64 * torch.log(torch.tensor(17.0))) < 1e-4
