"""Site predicates: which sites of a Pyro trace are random variables, latents, reparameterized,
plate indices or ``pyro.deterministic`` records; and the name of ppgen's own plate over samples."""

from __future__ import annotations

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


def distribution_family(site) -> str:
    """The class name of a site's distribution under its wrappers: ``"Bernoulli"``,
    ``"Categorical"``, ``"OneHotCategorical"``, ``"Normal"``..."""
    return type(base_distribution(site["fn"])).__name__
