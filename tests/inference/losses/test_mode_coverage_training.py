"""Slow: the benchmark's claim at seed 0 (benchmarks/adversarial_mmd_toy2d.py, same settings): a
generator trained by MMD captures every mode of the ring of 8 and at least 24 of the grid of 25
Gaussians, scored on 2500 samples (nearest mode within 3 std)."""

import pytest
import torch

from ppgen import Generator, fit, load_dataset
from ppgen.evaluation import mode_coverage

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name, at_least", [("ring8", 8), ("grid25", 24)])
def test_gmmn_captures_the_modes(name, at_least):
    data = load_dataset(name)
    torch.manual_seed(0)
    generator = Generator(2, latent_dim=2, hidden_dims=(400, 400, 400))
    fit(generator, data, loss="mmd", steps=5000, batch_size=256, lr=1e-3, progress=False)
    coverage = mode_coverage(generator.sample(2500), data.meta["centers"], data.meta["std"])
    assert coverage["modes_captured"] >= at_least, coverage
