"""Runs of a program with one guide site's value replaced: the helpers of the estimators that
evaluate the learning signal at other values of one discrete site (``arm``, ``disarm``,
``rebar``, ``relax``).

They work on vectorized traces (a plate of K samples left of the program's plates): a signal per
sample and data point ``(K, points)`` is laid out against a site's value by the sample plate's and
the data plate's dimensions.
"""

from __future__ import annotations

import torch

from ..program.sites import base_distribution, distribution_family, is_index_site


def sites_of_families(guide_trace, families=("Bernoulli",)) -> list[str]:
    """The guide's latent sites of the given distribution families, in the order it drew them."""
    return [
        name
        for name, site in guide_trace.nodes.items()
        if site["type"] == "sample"
        and not site["is_observed"]
        and not is_index_site(site)
        and distribution_family(site) in families
    ]


def site_logits(site) -> torch.Tensor:
    """The site's logits broadcast to its value's shape."""
    return torch.broadcast_to(base_distribution(site["fn"]).logits, site["value"].shape)


def signal_for_site(signal: torch.Tensor, site, data_plate, sample_dim: int) -> torch.Tensor:
    """``signal`` ``(K, points)`` laid out to broadcast against the site's value: samples on the
    sample plate's dimension, points on the data plate's (one "point" for joint signals)."""
    rank, event_dim = site["value"].dim(), site["fn"].event_dim
    shape = [1] * rank
    shape[rank - event_dim + sample_dim] = signal.shape[0]
    if signal.shape[1] > 1:
        frame = next(f for f in site["cond_indep_stack"] if f.name == data_plate)
        shape[rank - event_dim + frame.dim] = signal.shape[1]
    return signal.reshape(shape)


def upstream_with(guide_trace, name: str, value: torch.Tensor):
    """A trace to replay: the guide's sites up to ``name`` (plate indices all kept), with
    ``name``'s value replaced; the sites after it are then drawn afresh."""
    partial = guide_trace.copy()
    names = list(guide_trace.nodes)
    for later in names[names.index(name) + 1 :]:
        if not is_index_site(guide_trace.nodes[later]):
            partial.remove_node(later)
    partial.nodes[name] = dict(guide_trace.nodes[name], value=value)
    return partial
