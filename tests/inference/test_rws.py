"""``rws``: unbiased for its exact expected update (enumeration, K = 2), and trains an SBN."""

import torch

from ppgen.inference import get_estimator


def test_k2_update_is_unbiased_against_enumeration(tiny_sbn, check_unbiased):
    x = torch.tensor([1.0, 0.0, 1.0])
    exact = tiny_sbn.exact_gradient(tiny_sbn.rws_objective, x)
    rws = get_estimator("rws", num_particles=2, max_plate_nesting=1)
    estimates = tiny_sbn.estimated_gradients(rws, x)
    check_unbiased(estimates, exact)


def test_model_part_is_the_gradient_of_the_k_sample_bound(tiny_sbn):
    """The model's coordinates of RWS's exact update equal those of the exact 2-sample bound:
    wake-theta ascends the same bound as IWAE/VIMCO (only the guide's update differs)."""
    x = torch.tensor([1.0, 0.0, 1.0])
    rws = tiny_sbn.exact_gradient(tiny_sbn.rws_objective, x)
    bound = tiny_sbn.exact_gradient(tiny_sbn.two_sample_bound, x)
    encoder = sum(p.numel() for p in tiny_sbn.model.encoders.parameters())
    is_model = torch.ones_like(rws, dtype=torch.bool)
    offset = 0
    for name, p in tiny_sbn.model.named_parameters():
        if name.startswith("encoders"):
            is_model[offset : offset + p.numel()] = False
        offset += p.numel()
    assert int((~is_model).sum()) == encoder
    assert torch.allclose(rws[is_model], bound[is_model], atol=1e-6)
    assert not torch.allclose(rws[~is_model], bound[~is_model], atol=1e-3)


def test_the_sleep_phase_fits_the_guide_to_dreams_from_the_model(normal_pair):
    """Wake-sleep's guide update alone (insomnia=0) on a user's pair z ~ N(loc, 1), x ~ N(z, 1)
    with q(z | x) = N(x / 2 + shift, 0.7^2): its fixed point is the posterior mean's offset,
    shift = loc / 2 (E_p[z - x / 2] = loc / 2), reached to 0.1, with loc at the data mean."""
    from ppgen import fit

    torch.manual_seed(0)
    x = torch.randn(300, 2) * 2**0.5 + torch.tensor([3.0, -1.0])
    rws = get_estimator("rws", num_particles=5, insomnia=0.0)
    result = fit(normal_pair, x, estimator=rws, steps=800, lr=0.03, progress=False)
    loc, shift = result.params["loc"], result.params["shift"]
    assert torch.allclose(loc, x.mean(0), atol=0.25), loc
    assert torch.allclose(shift, loc / 2, atol=0.1), (shift, loc)


def test_the_sleep_phase_needs_the_data_observed_and_insomnia_in_range():
    import pyro
    import pyro.distributions as dist
    import pytest

    from ppgen.program.errors import ProgramError

    def model(x):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.factor("f", -((x - z) ** 2).sum())

    def guide(x):
        pyro.sample("z", dist.Normal(pyro.param("m", torch.tensor(0.0)), 1.0))

    rws = get_estimator("rws", num_particles=2, insomnia=0.5)
    with pytest.raises(ProgramError, match="observe its first argument"):
        rws(model, guide, torch.randn(4))
    for bad in (-0.1, 1.5, True):
        with pytest.raises(ValueError, match="insomnia"):
            get_estimator("rws", insomnia=bad)
