"""Input checks: every kind of bad data is refused with a message that names the problem."""

import pytest
import torch

from ppgen.validation import check_data, check_name, constant_columns


def test_accepts_good_data_unchanged():
    x = torch.rand(5, 3)
    assert check_data(x, event_dim=3) is x


@pytest.mark.parametrize(
    "x, kwargs, error, words",
    [
        ([[1.0, 2.0]], {}, TypeError, "torch.Tensor"),
        (torch.ones(4, 2, dtype=torch.long), {}, TypeError, "dtype torch.int64"),
        (torch.ones(4, 2, dtype=torch.float64), {"dtype": torch.float32}, TypeError, "float64"),
        (torch.ones(4), {}, ValueError, "shape (num_points, num_features)"),
        (torch.ones(0, 3), {}, ValueError, "empty"),
        (torch.ones(4, 2), {"event_dim": 3}, ValueError, "expects 3"),
        (torch.tensor([[1.0, float("nan")]]), {}, ValueError, "NaN"),
        (torch.tensor([[1.0, float("inf")]]), {}, ValueError, "NaN or infinite"),
        (torch.tensor([[1.0, 0.5]]), {"binary": True}, ValueError, "must be binary"),
        (torch.ones(2, 2), {"device": "meta"}, ValueError, "is on cpu but the model is on meta"),
    ],
)
def test_rejects_bad_data_with_a_named_problem(x, kwargs, error, words):
    with pytest.raises(error, match=None) as info:
        check_data(x, name="my data", **kwargs)
    assert words in str(info.value)


def test_unknown_name_lists_choices_and_suggests():
    with pytest.raises(ValueError, match="choose one of alpha, beta.*Did you mean 'alpha'"):
        check_name("alpah", ["beta", "alpha"], "thing")


def test_constant_columns():
    x = torch.tensor([[0.0, 1.0, 2.0], [0.0, 3.0, 2.0]])
    assert constant_columns(x) == [0, 2]
