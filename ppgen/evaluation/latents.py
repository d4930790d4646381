"""Latent-space statistics of a fitted guide: which latent units the model actually uses.

A unit ``u`` is *active* when its posterior mean moves with the data, ``Cov_x(E_q[u | x]) > 0.01``
(Burda et al. 2016). An inactive unit has ``q(u | x)`` close to the prior for every ``x``: it costs
nothing in KL and carries no information (posterior collapse). The IWAE's tighter bound keeps more
units active than the ELBO at the same number of samples.
"""

from __future__ import annotations

import pyro.poutine as poutine
import torch
from pyro.poutine.util import prune_subsample_sites

from ..models.base import GenerativeModel
from ..program.data_spec import check_tensor
from ..program.particles import vectorize
from ..program.program import Program

#: Burda et al. (2016): a unit is active when the variance over x of E_q[u | x] exceeds this.
ACTIVITY_THRESHOLD = 0.01


@torch.no_grad()
def posterior_mean(
    model, x: torch.Tensor, site: str | None = None, num_samples: int = 1000, **kwargs
):
    """``E_q[z | x]`` of one latent site, shape ``(num_points, *event_shape)``.

    Exact where the guide's distribution has a closed-form mean (Gaussian guides), otherwise a
    ``num_samples`` Monte Carlo average (flow guides): the Monte Carlo error adds about
    ``Var_q / num_samples`` to the activity, far below the threshold at the default.
    """
    if isinstance(model, GenerativeModel):
        model.check_data(x, "x")
    else:
        check_tensor(x, "x")
    pair = Program.of(model).resolved((x,), kwargs)
    guide_fn = pair.guide_fn
    trace = prune_subsample_sites(poutine.trace(guide_fn).get_trace(x, **kwargs))
    latent = [n for n, s in trace.nodes.items() if s["type"] == "sample" and not s["is_observed"]]
    if site is None:
        if len(latent) != 1:
            raise ValueError(f"the guide has latent sites {latent}; choose one with site=")
        site = latent[0]
    elif site not in latent:
        raise ValueError(f"unknown latent site {site!r}; the guide has {latent}")
    try:
        return trace.nodes[site]["fn"].mean
    except NotImplementedError:
        pass
    fn = vectorize(guide_fn, num_samples, -pair.nesting - 1)
    return poutine.trace(fn).get_trace(x, **kwargs).nodes[site]["value"].mean(0)


@torch.no_grad()
def latent_activity(model, x: torch.Tensor, site: str | None = None, **kwargs) -> torch.Tensor:
    """``Cov_x(E_q[u | x])`` for every unit ``u`` of a latent site, shape ``(latent_dim,)``."""
    means = posterior_mean(model, x, site, **kwargs)
    if len(means) < 2:
        raise ValueError("latent activity is a variance over data points: pass at least 2")
    return means.reshape(len(means), -1).var(0)


def active_units(
    model, x: torch.Tensor, site: str | None = None, threshold: float = ACTIVITY_THRESHOLD, **kwargs
) -> int:
    """The number of latent units whose activity exceeds ``threshold`` (Burda et al. 2016)."""
    return int((latent_activity(model, x, site, **kwargs) > threshold).sum())
