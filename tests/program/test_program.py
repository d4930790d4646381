"""The one entry point to a pair: Program.of / read_program resolve a ppgen model, a pair of its
bound methods and a user's plain pair the same way, and refuse what is not a pair."""

import pyro
import pyro.distributions as dist
import pytest
import torch

from ppgen import PPCA
from ppgen.program import Program, read_program


def user_model(x):
    with pyro.plate("rows", len(x)):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("obs", dist.Normal(z, 1.0), obs=x)


def user_guide(x):
    with pyro.plate("rows", len(x)):
        pyro.sample("z", dist.Normal(pyro.param("loc", torch.zeros(len(x))), 1.0))


def test_a_ppgen_model_declares_what_a_users_pair_shows_in_its_trace():
    ppca = PPCA(4, 2)
    for model in (ppca, (ppca.model, ppca.guide)):
        program = Program.of(model)
        assert program.declared_plate == "data" and program.declared_nesting == 1
    call = read_program((user_model, user_guide), torch.randn(5))
    assert call.program.declared_plate is None and call.data_plate == "rows"
    assert call.nesting == 1 and call.info.per_row_params == ("'loc'",)
    assert call.spec.num_rows == 5


def test_data_plate_overrides_and_bad_pairs_are_refused():
    assert Program.of((user_model, user_guide), data_plate="rows").declared_plate == "rows"
    with pytest.raises(TypeError, match="data_plate must be a plate name"):
        Program.of((user_model, user_guide), data_plate=1)
    with pytest.raises(TypeError, match="a ppgen GenerativeModel or a \\(model, guide\\) pair"):
        Program.of(user_model)
