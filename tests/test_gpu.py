"""GPU runs: the same code on CUDA (skipped cleanly without CUDA)."""

import pytest
import torch

from ppgen import PPCA, fit, load_dataset
from ppgen.evaluation import log_likelihood

pytestmark = pytest.mark.gpu


def test_ppca_trains_and_scores_on_cuda_with_auto_device():
    data = load_dataset("linear_gaussian", num_train=500)
    torch.manual_seed(0)
    model = PPCA(10, 3).init_from_data(data.train)
    result = fit(model, data, steps=300, lr=0.02, device="auto", progress=False)
    assert result.device.type == "cuda" and model.W.is_cuda
    test = data.test.cuda()
    exact = model.log_prob(test)
    estimate = log_likelihood(model, test, num_samples=1000)
    assert exact.is_cuda and float((exact - estimate).mean().abs()) < 0.1


def test_cpu_data_on_a_cuda_model_is_refused():
    model = PPCA(4, 2).cuda()
    with pytest.raises(ValueError, match="is on cpu but the model is on cuda"):
        model.log_prob(torch.zeros(3, 4))
