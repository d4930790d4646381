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
