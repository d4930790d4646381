"""The speed benchmark's hand-written losses compute ppgen's objectives.

``benchmarks/speed_vs_pytorch.py`` is only a fair comparison if its hand-written PyTorch losses are
the objectives ppgen optimizes. The flow's has no randomness and must match exactly, value and
gradient. The others draw their noise differently, so their values are compared in expectation:
one digit is repeated ``COPIES`` times (independent draws), and the means of the two estimates
must agree within 4 standard errors of their difference. (The score-function surrogates of the
SBN losses are written to mirror ppgen's; only their values are checked here.)
"""

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from ppgen import load_dataset
from ppgen.inference.losses.compose import ELBOLoss

COPIES = 6000
GROUPS = 30


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).parents[1] / "benchmarks" / "speed_vs_pytorch.py"
    spec = importlib.util.spec_from_file_location("speed_vs_pytorch", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "label",
    ["VAE trace", "VAE iwae K=5", "SBN tracegraph", "SBN vimco K=5", "PPCA trace",
     "SBN rloo K=5", "SBN arm", "SBN disarm", "SBN rebar", "SBN concrete",
     "SBN straight_through", "SBN tvo K=5", "SBN renyi K=5"],  # fmt: skip
)
def test_hand_written_values_match_ppgen_in_expectation(bench, label):
    config = next(c for c in bench.CONFIGS if c.label == label)
    data = {
        "binary": lambda: load_dataset("digits", binarize="threshold").train,
        "levels": lambda: load_dataset("digits", drop_constant=True).train,
    }[config.data]()
    model = config.build(0, data)
    # One digit, COPIES independent draws, in GROUPS batches: each batch's loss is a sum of
    # i.i.d. per-copy estimates, so the spread of the batch means gives the standard error.
    groups = data[3:4].expand(COPIES, -1).split(COPIES // GROUPS)
    objective = ELBOLoss(config.estimator, num_particles=config.particles, max_plate_nesting=1)
    with torch.no_grad():
        torch.manual_seed(1)
        hand = torch.stack([config.hand_written(model, g) / len(g) for g in groups])
        torch.manual_seed(2)
        ours = torch.stack([objective(model.model, model.guide, g) / len(g) for g in groups])
    difference = float(hand.mean() - ours.mean())
    standard_error = math.sqrt(float(hand.var() + ours.var()) / GROUPS)
    assert abs(difference) < 4 * standard_error, (difference, standard_error)


def test_hand_written_flow_loss_is_ppgen_objective_exactly(bench):
    config = next(c for c in bench.CONFIGS if c.label == "RealNVP trace")
    data = load_dataset("digits", dequantize=True).train
    model = config.build(0, data)
    batch = data[:64]
    params = [p for p in model.parameters() if p.requires_grad]
    hand = config.hand_written(model, batch)
    objective = ELBOLoss("trace", max_plate_nesting=1)
    ours = objective(model.model, model.guide, batch)
    torch.testing.assert_close(hand, ours, rtol=1e-6, atol=0)
    for a, b in zip(torch.autograd.grad(hand, params), torch.autograd.grad(ours, params)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_the_plain_pyro_vae_pair_is_ppgens_vae_computation(bench):
    """Issue 14's speed comparison: the user's plain Pyro pair computes what ppgen's VAE does,
    draw for draw (same modules, same noise): value and gradient."""
    config = next(c for c in bench.CONFIGS if c.label == "Pyro VAE pair trace")
    data = load_dataset("digits", binarize="threshold").train
    wrapper = config.build(0, data)
    batch = data[:64]
    params = [p for p in wrapper.parameters() if p.requires_grad]
    objective = ELBOLoss("trace", max_plate_nesting=1)
    torch.manual_seed(0)
    pair_value = objective(*wrapper.pair, batch)
    torch.manual_seed(0)
    vae_value = objective(wrapper.vae.model, wrapper.vae.guide, batch)
    torch.testing.assert_close(pair_value, vae_value, rtol=1e-5, atol=0)
    grads = zip(
        torch.autograd.grad(pair_value, params, allow_unused=True),
        torch.autograd.grad(vae_value, params, allow_unused=True),
    )
    for a, b in grads:
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
