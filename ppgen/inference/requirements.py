"""What each estimator needs of a program, checked on its trace before the first step.

A refusal names the site and the reason and lists the registered estimators that do apply, so a
user never meets an error from deep inside Pyro for a program that Pyro accepts.

- ``iwae``, ``dreg``, ``meanfield``: every guide site reparameterized (no discrete latents);
- ``iwae``, ``dreg``, ``vimco``, ``rws``, NVIL: a guide site for every model latent that is not
  enumerated (their importance weights need ``q`` for each);
- ``timestep``: a model whose owner offers ``random_timestep_elbo`` (ppgen's ``Diffusion``);
- ``enum``: at least one site marked for enumeration (``config_enumerate`` or
  ``infer={"enumerate": "parallel"}``); ppgen enumerates exactly what is marked;
- every multi-sample estimator: a program that broadcasts over a leading sample dimension
  (checked by running it once; see :func:`ppgen.inference.program.run_vectorized`).

Models with global latents are accepted by all of them: the multi-sample bounds are then over the
joint of the globals and the batch (:mod:`ppgen.inference.multi_sample`).
"""

from __future__ import annotations

from .program import ProgramError, ProgramInfo
from .registry import available_estimators

REPARAMETERIZED_ONLY = ("iwae", "dreg", "meanfield")
#: Estimators built on importance weights log p - log q: every model latent needs a guide site.
WEIGHTED = ("iwae", "dreg", "vimco", "rws", "tracegraph+nvil")


def requirement_failure(name: str, info: ProgramInfo) -> str | None:
    """Why the estimator registered as ``name`` cannot train this program, or ``None``."""
    base = name.partition("+")[0]
    if base in REPARAMETERIZED_ONLY and info.non_reparameterized:
        sites = ", ".join(repr(s) for s in info.non_reparameterized)
        return (
            f"{name} differentiates through reparameterized samples, but guide site(s) {sites} "
            "have no reparameterized sampler (discrete latents, or has_rsample=False)"
        )
    summed = [n for n in info.model_only_latents if n in info.enumerated]
    if base != "enum" and summed:
        return (
            f"model latent(s) {summed} have no guide site and are marked for enumeration: "
            "estimator='enum' sums them out; other estimators would need q for them"
        )
    missing = [n for n in info.model_only_latents if n not in info.enumerated]
    if name in WEIGHTED and missing:
        return (
            f"{name} weighs guide draws by p/q, but model latent(s) {missing} have no guide "
            "site (Pyro would draw them from the prior, which is not an importance weight)"
        )
    if base == "timestep" and not info.timestep_elbo:
        return (
            "timestep draws one step of a diffusion model's ELBO, and this model offers no "
            "random_timestep_elbo() (ppgen.models.Diffusion does)"
        )
    if base == "enum" and not info.enumerated:
        return (
            "enum sums out exactly the sites marked for enumeration, and none is marked: "
            "decorate the guide with pyro.infer.config_enumerate, or give discrete sites "
            "infer={'enumerate': 'parallel'}"
        )
    return None


def applicable_estimators(info: ProgramInfo) -> list[str]:
    """The registered estimators whose requirements the program meets (by its trace)."""
    return [n for n in available_estimators() if requirement_failure(n, info) is None]


def check_estimator(name: str | None, info: ProgramInfo) -> None:
    """Raise :class:`ProgramError` if the estimator ``name`` does not apply to the program."""
    if name is None:
        return
    reason = requirement_failure(name, info)
    if reason is not None:
        raise ProgramError(
            f"{reason}. Estimators that apply to this program: "
            f"{', '.join(applicable_estimators(info))}"
        )
