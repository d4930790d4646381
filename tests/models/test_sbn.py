"""Sigmoid belief net: exact enumeration against brute force and normalization, limits, and
importance sampling agreeing with the exact marginal."""

import itertools
import math

import pytest
import torch
from torch.distributions import Bernoulli

from ppgen import SigmoidBeliefNet, fit, load_dataset
from ppgen.evaluation import log_importance_weights


def random_sbn(data_dim, hidden, seed=0):
    torch.manual_seed(seed)
    model = SigmoidBeliefNet(data_dim, hidden)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1.5)
    return model


def test_log_prob_sums_to_one_over_every_binary_image():
    model = random_sbn(4, [2, 2])
    xs = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)))
    total = model.log_prob(xs).exp().sum()
    assert abs(float(total) - 1) < 1e-5


def test_log_prob_matches_brute_force_sum_over_states():
    model = random_sbn(3, [2, 1], seed=1)
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    expected = torch.zeros(2)
    with torch.no_grad():
        for h2 in itertools.product([0.0, 1.0], repeat=1):
            for h1 in itertools.product([0.0, 1.0], repeat=2):
                h1, h2 = torch.tensor(h1), torch.tensor(h2)
                p = Bernoulli(logits=model.top_logits).log_prob(h2).sum()
                p = p + Bernoulli(logits=model.decoders[1](h2)).log_prob(h1).sum()
                p = p + Bernoulli(logits=model.decoders[0](h1)).log_prob(x).sum(-1)
                expected += p.exp()
        assert torch.allclose(model.log_prob(x), expected.log(), atol=1e-5)


def test_chunked_enumeration_equals_one_pass(monkeypatch):
    from ppgen.models import sbn

    model = random_sbn(5, [6, 3])
    x = torch.bernoulli(torch.full((7, 5), 0.5))
    one_pass = model.log_prob(x)
    monkeypatch.setattr(sbn, "ENUMERATION_CHUNK", 5)
    assert torch.allclose(model.log_prob(x), one_pass, atol=1e-5)


def test_too_many_bits_and_bad_hidden_are_refused():
    with pytest.raises(ValueError, match="2\\^21 latent states.*log_likelihood"):
        SigmoidBeliefNet(4, [11, 10]).log_prob(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="non-empty list of positive ints"):
        SigmoidBeliefNet(4, [])


def test_non_binary_data_is_refused_before_training():
    with pytest.raises(ValueError, match="must be binary"):
        fit(SigmoidBeliefNet(64), load_dataset("digits"), steps=1, progress=False)


def test_importance_sampling_agrees_with_enumeration():
    """After a short fit, the importance-sampled log p(x) (S = 5000) agrees with enumeration:
    per image within 4 delta-method standard errors, se = std(w / mean w) / sqrt(S), plus the
    estimator's downward bias, which is at most 0.05 nats per image on average here."""
    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    model = SigmoidBeliefNet(64, [8])
    fit(model, data, steps=300, lr=0.01, progress=False)
    x = data.test[:50]
    with torch.no_grad():
        exact = model.log_prob(x)
        log_w = log_importance_weights(model, x, num_samples=5000)  # (5000, 50)
    estimate = torch.logsumexp(log_w, 0) - math.log(5000)
    relative = (log_w - torch.logsumexp(log_w, 0)).exp() * 5000  # w / mean(w)
    se = relative.std(0) / math.sqrt(5000)
    assert float((exact - estimate).mean()) < 0.05
    assert bool(((estimate - exact).abs() < 4 * se + 0.05).all())
    assert bool((estimate - exact < 4 * se).all())  # never above exact beyond noise


def test_training_improves_exact_log_likelihood():
    data = load_dataset("digits", binarize="threshold")
    torch.manual_seed(0)
    model = SigmoidBeliefNet(64, [8])
    before = float(model.log_prob(data.val).mean())
    fit(model, data, steps=200, lr=0.01, progress=False)
    assert float(model.log_prob(data.val).mean()) > before + 5
