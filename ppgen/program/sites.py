"""Site predicates: which sites of a Pyro trace are random variables, latents, reparameterized,
plate indices or ``pyro.deterministic`` records; and the name of ppgen's own plate over samples."""

from __future__ import annotations

import pyro.distributions as dist
from pyro.distributions.torch_distribution import MaskedDistribution
from pyro.poutine.subsample_messenger import _Subsample

#: The name of the plate in which ppgen draws samples, to the left of the program's plates.

SAMPLE_PLATE = "_ppgen_samples"


def is_index_site(site) -> bool:
    """Whether a trace site records a plate's subsample indices (not a random variable)."""
    return site["type"] == "sample" and isinstance(site["fn"], _Subsample)


def is_deterministic(site) -> bool:
    """Whether a sample site records a ``pyro.deterministic`` value (no density of its own)."""
    return bool(site.get("infer", {}).get("_deterministic", False))


def latent_sites(trace):
    """``(name, site)`` of the sample sites that carry a density: latent and observed random
    variables (plate indices and ``pyro.deterministic`` records skipped)."""
    for name, site in trace.nodes.items():
        if site["type"] == "sample" and not is_index_site(site) and not is_deterministic(site):
            yield name, site


def is_reparameterized(site) -> bool:
    """Whether a guide sample site's value carries a reparameterized gradient (index sites
    count as reparameterized: they carry no gradient to estimate)."""
    return is_index_site(site) or site["fn"].has_rsample


def base_distribution(fn):
    """The distribution under Pyro's wrappers (``to_event``, ``mask``, ``expand``), whose family
    says what kind of random variable a site is."""
    while hasattr(fn, "base_dist"):
        fn = fn.base_dist
    return fn


def with_base(fn, base):
    """``fn`` with the distribution under its ``to_event``, ``mask`` and ``expand`` wrappers
    replaced by ``base`` (of the same shapes), or ``None`` under any other wrapper."""
    if isinstance(fn, dist.Independent):
        inner = with_base(fn.base_dist, base)
        return None if inner is None else inner.to_event(fn.reinterpreted_batch_ndims)
    if isinstance(fn, MaskedDistribution):
        inner = with_base(fn.base_dist, base)
        return None if inner is None else inner.mask(fn._mask)
    if isinstance(fn, dist.ExpandedDistribution):
        inner = with_base(fn.base_dist, base)
        return None if inner is None else inner.expand(fn.batch_shape)
    return None if hasattr(fn, "base_dist") else base


def distribution_family(site) -> str:
    """The class name of a site's distribution under its wrappers: ``"Bernoulli"``,
    ``"Categorical"``, ``"OneHotCategorical"``, ``"Normal"``..."""
    return type(base_distribution(site["fn"])).__name__
