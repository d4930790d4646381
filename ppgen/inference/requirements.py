"""What each estimator needs of a program, checked on its trace before the first step.

The checks read what an estimator declares (:class:`~ppgen.inference.estimator.Estimator`), never
a list of names. A refusal names the site and the reason and lists the registered estimators that
do apply, so a user never meets an error from deep inside Pyro for a program that Pyro accepts.
A multi-sample estimator draws its particles in one vectorized pass, or one at a time where the
program does not broadcast over a leading sample dimension (:mod:`ppgen.program.particles`).

Models with global latents are accepted by all of them: the multi-sample bounds are then over the
joint of the globals and the batch (:mod:`ppgen.inference.multi_sample`).
"""

from __future__ import annotations

from ..program.errors import ProgramError
from ..program.inspection import ProgramInfo
from ..registry import ESTIMATORS
from .estimator import Estimator


def requirement_failure(estimator, info: ProgramInfo) -> str | None:
    """Why ``estimator`` (an :class:`Estimator` instance or class) cannot train this program, or
    ``None``. Anything else (a Pyro ELBO, a user's loss) declares nothing: ``None``."""
    declares = isinstance(estimator, Estimator) or (
        isinstance(estimator, type) and issubclass(estimator, Estimator)
    )
    if not declares:
        return None
    name = estimator.name
    if estimator.needs_reparameterized and info.non_reparameterized:
        sites = ", ".join(repr(s) for s in info.non_reparameterized)
        return (
            f"{name} differentiates through reparameterized samples, but guide site(s) {sites} "
            "have no reparameterized sampler (discrete latents, or has_rsample=False)"
        )
    families = estimator.discrete_families
    other = {
        n: f
        for n, f in info.discrete_families.items()
        if families is not None and f not in families
    }
    if other:
        sites = ", ".join(f"{n!r} ({f})" for n, f in other.items())
        return (
            f"{name} has gradients for {' and '.join(families)} guide sites "
            f"({estimator.discrete_families_reason}), but guide site(s) {sites} are not"
        )
    summed = [n for n in info.model_only_latents if n in info.enumerated]
    if summed and not estimator.sums_enumerated_model_latents:
        return (
            f"model latent(s) {summed} have no guide site and are marked for enumeration: "
            "estimator='enum' sums them out; other estimators would need q for them"
        )
    missing = [n for n in info.model_only_latents if n not in info.enumerated]
    if estimator.needs_guide_site_for_every_latent and missing:
        return (
            f"{name} weighs guide draws by p/q, but model latent(s) {missing} have no guide "
            "site (Pyro would draw them from the prior, which is not an importance weight)"
        )
    if estimator.needs_local_latents and not info.local_latents:
        return f"{name} needs latents inside the data plate, and this program has none"
    if estimator.needs_timestep_elbo and not info.timestep_elbo:
        return (
            f"{name} draws one step of a diffusion model's ELBO, and this model offers no "
            "random_timestep_elbo() (ppgen.models.Diffusion does)"
        )
    if estimator.needs_enumerated_sites and not info.enumerated:
        return (
            f"{name} sums out exactly the sites marked for enumeration, and none is marked: "
            "decorate the guide with pyro.infer.config_enumerate, or give discrete sites "
            "infer={'enumerate': 'parallel'}"
        )
    return None


def applicable_estimators(info: ProgramInfo) -> list[str]:
    """The registered estimators whose requirements the program meets (by its trace)."""
    return [
        name
        for name, estimator in ESTIMATORS.values().items()
        if requirement_failure(estimator, info) is None
    ]


def declared_estimators(objective) -> list[Estimator]:
    """The :class:`Estimator` objects inside ``objective`` (an estimator, an ``ELBOLoss`` or a
    composed loss); a Pyro ELBO or a user's loss callable declares nothing and is not checked."""
    if isinstance(objective, Estimator):
        return [objective]
    found = []
    for term in getattr(objective, "terms", None) or [getattr(objective, "term", None)]:
        if term is not None:
            found += declared_estimators(term)
    estimator = getattr(objective, "estimator", None)
    if estimator is not None and estimator is not objective:
        found += declared_estimators(estimator)
    return found


def check_estimator(objective, info: ProgramInfo) -> None:
    """Raise :class:`ProgramError` if an estimator in ``objective`` does not apply to the
    program (see :func:`declared_estimators`)."""
    for estimator in declared_estimators(objective):
        reason = requirement_failure(estimator, info)
        if reason is not None:
            raise ProgramError(
                f"{reason}. Estimators that apply to this program: "
                f"{', '.join(applicable_estimators(info))}"
            )
