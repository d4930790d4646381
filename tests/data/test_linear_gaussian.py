"""linear_gaussian: known parameters and an exact log-density."""

import pytest
import torch

from ppgen import load_dataset


def test_true_parameters_and_density():
    data = load_dataset("linear_gaussian", data_dim=6, latent_dim=2, noise_std=0.3)
    W, b = data.meta["W"], data.meta["b"]
    assert W.shape == (6, 2) and data.meta["latent_dim"] == 2
    covariance = W @ W.T + 0.09 * torch.eye(6)
    direct = torch.distributions.MultivariateNormal(b, covariance).log_prob(data.test)
    assert torch.allclose(data.log_density(data.test), direct)
    # The sample covariance of the training data matches the model's (loose: 1000 points).
    assert torch.allclose(torch.cov(data.train.T), covariance, atol=0.6)


def test_bad_dimensions_are_refused():
    with pytest.raises(ValueError, match="latent_dim <= data_dim"):
        load_dataset("linear_gaussian", data_dim=2, latent_dim=3)
