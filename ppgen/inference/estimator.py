"""``Estimator``: the one base of every registered gradient estimator, and what it declares.

An estimator is a loss callable ``estimator(model, guide, *args, **kwargs) -> tensor`` whose value
is the negative objective (an ELBO, a multi-sample bound) summed over the batch and whose gradient
is the estimator's. A Pyro ELBO can be one too: ``class TraceELBO(Estimator, Trace_ELBO)`` keeps
everything Pyro's object does and adds the declarations below.

What an estimator needs of a program is declared here, as class attributes, and checked on the
program's trace before the first step (:mod:`ppgen.inference.requirements`), so that a program it
cannot handle is refused with the site and the reason instead of failing inside Pyro:

- ``needs_reparameterized``: every guide site has a reparameterized sampler (IWAE, DReG,
  the analytic-KL ELBO);
- ``needs_guide_site_for_every_latent``: it weighs guide draws by ``p / q``, so every model
  latent that is not enumerated needs a guide site (the multi-sample estimators, NVIL);
- ``needs_enumerated_sites``: at least one site marked for enumeration (``enum``);
- ``sums_enumerated_model_latents``: model latents without a guide site that are marked for
  enumeration are summed out (``enum``); every other estimator refuses them;
- ``needs_local_latents``: at least one latent inside the data plate;
- ``needs_timestep_elbo``: the model's owner offers ``random_timestep_elbo`` (a diffusion model);
- ``discrete_families``: the distribution families (``"Bernoulli"``, ``"Categorical"``...) of
  non-reparameterized guide sites it has a gradient for, or ``None`` for any (ARM and DisARM
  flip Bernoulli draws; the relaxations replace Bernoulli and one-hot categorical draws);
- ``traceable``: a pure function of its random draws, with no state between calls, so that
  ``fit`` may replay it from a compiled trace (:mod:`ppgen.training.compiled`).

``default_num_particles`` and ``min_num_particles`` are what ``num_particles=None`` means and the
least it accepts (VIMCO's leave-one-out baselines need two).

Recipe for a new estimator (``CONTRIBUTING.md`` lists the files and checks): one file in
``ppgen/inference/``; subclass
:class:`Estimator` (or a base built on it, :class:`~ppgen.inference.multi_sample
.MultiSampleEstimator` for bounds over K importance weights), set ``name``, the declarations and a
one-line docstring, implement ``__call__``, and decorate it with ``@ESTIMATORS.register(name)``.
Its test is one file in ``tests/inference/``; the registry-driven contract test
(``tests/inference/test_contract.py``) picks it up. Learnable state of its own (NVIL's baseline
network) goes in ``parameters()``, ``state_dict()`` and ``load_state_dict()``: ``fit`` then trains
and checkpoints it with the model.
"""

from __future__ import annotations

from ..validation import check_positive_int


class Estimator:
    """Base of ppgen's estimators: declarations (module docstring) and particle checks."""

    #: The registered name, reported as the objective's name in ``fit``'s results.
    name = "estimator"
    needs_reparameterized = False
    needs_guide_site_for_every_latent = False
    needs_enumerated_sites = False
    sums_enumerated_model_latents = False
    needs_local_latents = False
    needs_timestep_elbo = False
    discrete_families: tuple[str, ...] | None = None
    #: Why only ``discrete_families`` can work, for the refusal.
    discrete_families_reason = ""
    traceable = True
    default_num_particles = 1
    min_num_particles = 1
    #: Why fewer particles than ``min_num_particles`` cannot work, for the refusal.
    min_particles_reason = ""

    @classmethod
    def create(cls, **options) -> Estimator:
        """The estimator built from registry options (``get_estimator(name, **options)``);
        ``num_particles=None`` means the estimator's own default."""
        if options.get("num_particles", 1) is None:
            options.pop("num_particles")
        return cls(**options)

    @classmethod
    def options_of(cls):
        """The callable whose signature lists the options ``create`` takes."""
        return cls

    def check_num_particles(self, num_particles) -> int:
        """``num_particles`` checked: a positive int, at least ``min_num_particles``."""
        check_positive_int(num_particles, "num_particles", allow_none=False)
        if num_particles < self.min_num_particles:
            reason = f" ({self.min_particles_reason})" if self.min_particles_reason else ""
            raise ValueError(
                f"{self.name} needs num_particles >= {self.min_num_particles}{reason}, got "
                f"{num_particles}"
            )
        return num_particles

    def log_values(self) -> dict:
        """Numbers ``fit`` adds to each history row as ``estimator/<key>`` (a relaxation's
        temperature, a control variate's variance reduction); none by default."""
        return {}

    def model_evaluations(self, info) -> int:
        """Runs of the model per estimate on a program (``info``: its
        :class:`~ppgen.program.inspection.ProgramInfo`): one per particle, unless the estimator
        spends more (ARM's antithetic twins, REBAR's relaxed runs)."""
        return int(getattr(self, "num_particles", 1))

    @property
    def __name__(self) -> str:  # what fit() reports as the objective
        return self.name
