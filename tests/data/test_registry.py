"""load_dataset: names, options, and preprocessing that does not apply."""

import pytest

from ppgen import load_dataset
from ppgen.data import available_datasets


def test_every_registered_name_is_listed():
    """ppgen's own data sets are all registered (a new one needs no edit here)."""
    assert set(available_datasets()) >= {
        "digits",
        "file",
        "mnist",
        "ring8",
        "grid25",
        "8gaussians",
        "moons",
        "linear_gaussian",
    }


def test_unknown_name_is_refused_with_suggestion():
    with pytest.raises(ValueError, match="unknown data set 'digit'.*Did you mean 'digits'"):
        load_dataset("digit")


def test_unknown_option_is_refused():
    with pytest.raises(ValueError, match="unknown option.*num_pts.*accepts num_test"):
        load_dataset("moons", num_pts=3)


def test_binarize_refused_on_continuous_data():
    with pytest.raises(ValueError, match="quantized image data"):
        load_dataset("ring8", binarize="threshold")


def test_binarize_and_dequantize_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        load_dataset("digits", binarize="threshold", dequantize=True)


def test_unknown_binarization_scheme():
    with pytest.raises(ValueError, match="unknown binarization scheme 'stochastic'"):
        load_dataset("digits", binarize="stochastic")
