"""DRAW: the attention filterbanks against exact cases, the program's structure under
``pyro.markov``, step-by-step canvases against the model's own draws, and the IWAE bound."""

import pyro
import pytest
import torch
from pyro.poutine.util import site_is_subsample

import ppgen
from ppgen.evaluation import elbo, log_likelihood
from ppgen.models import DRAW, VAE
from ppgen.models.attention import Attention, filterbank


def _is_random(site) -> bool:
    return site["type"] == "sample" and not site_is_subsample(site)


def test_filterbanks_are_normalised_over_the_image():
    centre, stride, variance = torch.tensor([2.0, 5.5]), torch.zeros(2), torch.tensor([0.0, 1.0])
    bank = filterbank(centre, stride, variance, size=3, length=8, image_extent=8)
    assert bank.shape == (2, 3, 8)
    torch.testing.assert_close(bank.sum(-1), torch.ones(2, 3))


def test_a_full_grid_of_narrow_filters_reads_and_writes_the_image_exactly():
    """N = width, stride 1, tiny variance, centred: F_X = F_Y = I, so read = gamma x and
    write(w) = w / gamma, to float precision."""
    attention = Attention(state_dim=1, image_shape=(8, 8), size=8)
    with torch.no_grad():
        attention.params.weight.zero_()
        # g = 0 centres the grid; stride (8 - 1) / (8 - 1) * e^0 = 1; variance e^-20; gamma e^0.7
        attention.params.bias.copy_(torch.tensor([0.0, 0.0, 0.0, -20.0, 0.7]))
    images, state = torch.rand(3, 64), torch.zeros(3, 1)
    gamma = torch.exp(torch.tensor(0.7))
    torch.testing.assert_close(attention.read(images, state), gamma * images)
    torch.testing.assert_close(attention.write(images, state), images / gamma)


def test_where_to_look_gets_a_gradient():
    attention = Attention(state_dim=4, image_shape=(8, 8), size=3)
    attention.read(torch.rand(5, 64), torch.randn(5, 4)).sum().backward()
    assert attention.params.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("attention", [True, False])
def test_latent_steps_are_sample_sites_in_the_data_plate(attention):
    model = DRAW(64, steps=5, latent_dim=3, hidden_dim=16, attention=attention)
    x = torch.rand(7, 64).round()
    guide = pyro.poutine.trace(model.guide).get_trace(x)
    replayed = pyro.poutine.trace(pyro.poutine.replay(model.model, trace=guide)).get_trace(x)
    latents = [n for n, s in guide.nodes.items() if _is_random(s)]
    assert latents == [f"z_{t}" for t in range(5)]
    for name in latents:
        assert guide.nodes[name]["value"].shape == (7, 3)
        assert replayed.nodes[name]["value"] is guide.nodes[name]["value"]
        assert "data" in {f.name for f in replayed.nodes[name]["cond_indep_stack"]}


def test_canvases_end_at_the_models_own_pixel_probabilities():
    """With the same seed, the last canvas of canvases() is sigmoid(c_T) of the model's draw."""
    torch.manual_seed(0)
    model = DRAW(64, steps=4, latent_dim=2, hidden_dim=12)
    torch.manual_seed(3)
    frames = model.canvases(6)
    torch.manual_seed(3)
    placeholder = torch.zeros(6, 64)
    trace = pyro.poutine.trace(pyro.poutine.uncondition(model.model)).get_trace(placeholder)
    probs = trace.nodes["x"]["fn"].base_dist.probs
    assert frames.shape == (5, 6, 64)
    torch.testing.assert_close(frames[-1], probs)
    torch.testing.assert_close(frames[0], torch.sigmoid(model.canvas_bias).expand(6, 64))


def test_importance_sampling_tightens_the_elbo():
    """k = 1 importance sampling is the ELBO in expectation; more samples can only tighten it:
    with the same model, mean log-likelihood at k = 200 above the mean ELBO."""
    torch.manual_seed(0)
    model = DRAW(16, steps=3, latent_dim=2, hidden_dim=8)
    x = torch.rand(20, 16).round()
    pyro.set_rng_seed(0)
    bound = elbo(model, x, num_samples=200).mean()
    estimate = log_likelihood(model, x, num_samples=200).mean()
    assert estimate > bound


def test_bad_options_are_refused_by_name():
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        DRAW(64, steps=0)
    with pytest.raises(ValueError, match="read_size must be a positive int, got True"):
        DRAW(64, read_size=True)
    with pytest.raises(TypeError, match="attention must be a bool"):
        DRAW(64, attention=1)
    with pytest.raises(ValueError, match=r"image_shape \(7, 7\) does not hold the data's 64"):
        DRAW(64, image_shape=(7, 7))
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        DRAW(64).canvases(0)


def test_image_shape_comes_from_whole_images_only():
    """DRAW and the VAE take the 2-D layout from the data set, and none when columns were
    dropped: attention on a grid that is not the data's would read the wrong pixels."""
    whole = ppgen.load_dataset("digits", binarize="threshold")
    dropped = ppgen.load_dataset("digits", drop_constant=True)
    for model_class in (DRAW, VAE):
        assert model_class.options_from_data(whole) == {"image_shape": (8, 8)}
        assert model_class.options_from_data(dropped) == {}
