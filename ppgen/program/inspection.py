"""What a user's model/guide pair looks like, read off one trace before any training step.

ppgen never guesses a program's structure from names: it runs the guide once and the model
replayed on it, and reads the plates, sites and parameters Pyro recorded. :func:`inspect_program`
returns a :class:`ProgramInfo`:

- the **data plate**: the vectorized plate that every observed site varies over (any name; the
  outermost such plate, preferring one whose full size is the number of data rows), or the plate
  named by the caller. ``None`` where the observed sites share no vectorized plate (a data-free
  program, a sequential plate over data points): then the whole call is one "point";
- ``nesting``: the number of vectorized plate dimensions (Pyro's ``max_plate_nesting``);
- global and local latents (model sites outside / inside the data plate), observed sites;
- the guide's non-reparameterized sites, enumerated sites, and **per-row parameters**: an
  autoguide over local latents (AutoNormal, AutoDelta, AutoDiagonalNormal...) or hand-written
  ``pyro.param`` values with one entry per row (Pyro's sparse gamma DEF). Those parameters belong
  to particular rows, so minibatches must tell the program which rows they hold.

:class:`ProgramError` is the one exception for "ppgen cannot run this program this way": it names
the site and the reason. :func:`run_vectorized` turns a failure under vectorized particles into one.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch
from pyro.infer.autoguide import AutoCallable, AutoGuide, AutoGuideList

from ..caller_warnings import warn
from .errors import ProgramError
from .sites import SAMPLE_PLATE, distribution_family, is_reparameterized, latent_sites

#: The method of a model's owner that the ``timestep`` estimator calls
#: (:mod:`ppgen.inference.random_timestep`).
TIMESTEP_METHOD = "random_timestep_elbo"


@dataclass
class ProgramInfo:
    """The structure of a model/guide pair in one traced call (see the module docstring)."""

    data_plate: str | None
    #: Points in the traced call: the data plate's size there (its subsample size), or 1.
    num_points: int
    #: The data plate's full size (``pyro.plate(name, size)``), or ``None``.
    full_size: int | None
    nesting: int
    observed: tuple[str, ...]
    global_latents: tuple[str, ...]
    local_latents: tuple[str, ...]
    non_reparameterized: tuple[str, ...]
    enumerated: tuple[str, ...]
    per_row_params: tuple[str, ...]
    #: Model latents the guide does not sample (drawn from the prior, or enumerated).
    model_only_latents: tuple[str, ...] = ()
    #: Vectorized plates of model and guide by name, and the sequential ones.
    plates: dict = field(default_factory=dict)
    sequential_plates: tuple[str, ...] = ()
    #: Whether the model's owner offers the random-timestep ELBO (a diffusion model).
    timestep_elbo: bool = False
    #: The distribution family of each non-reparameterized guide site (``"Bernoulli"``...).
    discrete_families: dict = field(default_factory=dict)

    @property
    def subsamples(self) -> bool:
        """Whether the program subsamples its own data plate (``subsample_size=``)."""
        return self.full_size is not None and self.num_points < self.full_size

    def describe_plates(self) -> str:
        names = [f"{n!r} (dim {d}, size {s})" for n, (d, s) in self.plates.items()]
        names += [f"{n!r} (sequential)" for n in self.sequential_plates]
        return ", ".join(names) or "none"


def _sample_sites(trace):
    """Random-variable sites: not plate indices, not ``pyro.deterministic`` records."""
    yield from latent_sites(trace)


def _vectorized_frames(site):
    return [f for f in site["cond_indep_stack"] if f.vectorized and f.name != SAMPLE_PLATE]


def program_traces(model_fn, guide_fn, args: tuple, kwargs: dict):
    """``(model_trace, guide_trace)``: the guide run once, the model replayed on it."""
    guide_trace = poutine.trace(guide_fn).get_trace(*args, **kwargs)
    model_trace = poutine.trace(poutine.replay(model_fn, trace=guide_trace)).get_trace(
        *args, **kwargs
    )
    return model_trace, guide_trace


def _is_factor(site) -> bool:
    """A ``pyro.factor`` term: an observed site of Pyro's ``Unit`` distribution."""
    return isinstance(site["fn"], dist.Unit)


def _rows_dim(site, num_rows: int | None) -> int | None:
    """The (negative) batch dimension of an observed site that holds its value's first axis,
    where that axis has the data's ``num_rows`` rows (``obs=x``, rows on dim 0), else ``None``."""
    value = site["value"]
    batch_dims = value.dim() - site["fn"].event_dim
    if num_rows is None or batch_dims < 1 or value.shape[0] != num_rows:
        return None
    return -batch_dims


def find_data_plate(model_trace, num_rows: int | None, named: str | None):
    """The data plate's frame (see the module docstring), or ``None``.

    Among the vectorized plates every observed site shares (``pyro.factor`` terms outside them
    aside: a factor on global latents is not an observation of the data), the plate over the
    dimension that holds the rows ppgen passes (the first axis of an observed value with the
    data's ``num_rows`` rows); failing that, a plate of that size, warning when several are;
    failing that, the outermost shared plate."""
    observed = [site for _, site in _sample_sites(model_trace) if site["is_observed"]]
    all_frames = {
        f.name: f
        for trace_site in model_trace.nodes.values()
        for f in trace_site.get("cond_indep_stack", ())
        if f.name != SAMPLE_PLATE
    }
    if named is not None:
        return _named_plate(named, all_frames)
    # A pyro.factor term is an observation where it lies in a plate (a likelihood written as a
    # factor); outside every plate it is a term on the globals.
    observed = [site for site in observed if not _is_factor(site)] or [
        site for site in observed if _vectorized_frames(site)
    ]
    if not observed:
        return None
    common = [f for f in _vectorized_frames(observed[0])]
    for site in observed[1:]:
        names = {f.name for f in _vectorized_frames(site)}
        common = [f for f in common if f.name in names]
    # cond_indep_stack lists the outermost plate first.
    row_dims = {_rows_dim(site, num_rows) for site in observed} - {None}
    by_position = [f for f in common if f.dim in row_dims]
    if by_position:
        return by_position[0]
    if num_rows is not None:
        matching = [f for f in common if num_rows in (f.full_size or f.size, f.size)]
        if len(matching) > 1:
            warn(
                f"plates {[f.name for f in matching]} all have the data's {num_rows} rows; ppgen "
                f"takes {matching[0].name!r} as the plate over data points. Pass data_plate= to "
                "choose another"
            )
        if matching:
            return matching[0]
    return common[0] if common else None


def _named_plate(named: str, all_frames: dict):
    if named not in all_frames:
        raise ProgramError(
            f"data_plate={named!r}: the model has no plate of that name; its plates are "
            f"{sorted(all_frames) or 'none'}"
        )
    if not all_frames[named].vectorized:
        raise ProgramError(
            f"data_plate={named!r} is a sequential plate (for i in pyro.plate(...)); a data "
            "plate must be vectorized (with pyro.plate(...)), or pass data_plate=None"
        )
    return all_frames[named]


def _autoguide_parts(guide_fn):
    if isinstance(guide_fn, AutoGuideList):
        return [g for g in guide_fn if isinstance(g, AutoGuide)]
    return [guide_fn] if isinstance(guide_fn, AutoGuide) else []


def _per_row_params(guide_fn, guide_trace, frame, local_latents) -> list[str]:
    """Guide parameters that belong to particular rows of the data plate ``frame``.

    Two kinds: an autoguide part (not ``AutoCallable``) that covers a local latent (AutoNormal,
    AutoDelta, AutoDiagonalNormal... hold one value per row), and a hand-written ``pyro.param``
    created inside the data plate with a dimension of the plate's size (Pyro's sparse gamma DEF).
    Module parameters (networks, ``pyro.module``) are shared by all rows and never count.
    """
    if frame is None:
        return []
    found = []
    for part in _autoguide_parts(guide_fn):
        if isinstance(part, AutoCallable):
            continue
        covered = set(getattr(part, "prototype_trace", None) and part.prototype_trace.nodes or ())
        mine = sorted(covered & set(local_latents))
        if mine:
            found.append(f"{type(part).__name__} over local latent(s) {mine}")
    if found:
        return found
    for name, site in guide_trace.nodes.items():
        if site["type"] != "param":
            continue
        in_plate = any(f.name == frame.name for f in site.get("cond_indep_stack", ()))
        value = site["value"]
        owned = isinstance(getattr(value, "unconstrained", lambda: None)(), torch.nn.Parameter)
        size = frame.full_size or frame.size
        if in_plate and not owned and size > 1 and size in tuple(value.shape):
            found.append(repr(name))
    return found


def inspect_program(
    model_fn,
    guide_fn,
    args: tuple = (),
    kwargs: dict | None = None,
    *,
    data_plate=None,
    num_rows: int | None = None,
) -> ProgramInfo:
    """Trace the pair once on ``args``/``kwargs`` and describe it (see :class:`ProgramInfo`).

    ``data_plate``: the plate over data points by name, or ``None`` to find it. ``num_rows``: the
    number of data rows passed, which picks the data plate among several candidates.
    """
    kwargs = kwargs or {}
    model_trace, guide_trace = program_traces(model_fn, guide_fn, args, kwargs)
    frame = find_data_plate(model_trace, num_rows, data_plate)
    plate_name = None if frame is None else frame.name
    plates, sequential = {}, set()
    for trace in (model_trace, guide_trace):
        for site in trace.nodes.values():
            for f in site.get("cond_indep_stack", ()):
                if f.vectorized:
                    plates.setdefault(f.name, (f.dim, f.size))
                else:
                    sequential.add(f.name)
    latents = [(n, s) for n, s in _sample_sites(model_trace) if not s["is_observed"]]

    def local(site):
        return any(f.name == plate_name for f in _vectorized_frames(site))

    local_latents = tuple(n for n, s in latents if local(s))
    guide_sites = list(_sample_sites(guide_trace))
    size = None if frame is None else _plate_size(frame, model_trace)
    return ProgramInfo(
        data_plate=plate_name,
        num_points=1 if frame is None else size,
        full_size=None if frame is None else max(frame.full_size or size, size),
        nesting=max((-d for d, _ in plates.values()), default=0),
        observed=tuple(n for n, s in _sample_sites(model_trace) if s["is_observed"]),
        global_latents=tuple(n for n, s in latents if not local(s)),
        local_latents=local_latents,
        non_reparameterized=tuple(n for n, s in guide_sites if not is_reparameterized(s)),
        enumerated=tuple(
            n
            for trace in (guide_trace, model_trace)
            for n, s in _sample_sites(trace)
            if s["infer"].get("enumerate") == "parallel" and not s["is_observed"]
        ),
        per_row_params=tuple(_per_row_params(guide_fn, guide_trace, frame, local_latents)),
        plates=plates,
        sequential_plates=tuple(sorted(sequential - {SAMPLE_PLATE})),
        model_only_latents=tuple(n for n, _ in latents if n not in guide_trace.nodes),
        timestep_elbo=callable(getattr(getattr(model_fn, "__self__", None), TIMESTEP_METHOD, None)),
        discrete_families={
            n: distribution_family(s) for n, s in guide_sites if not is_reparameterized(s)
        },
    )


def _plate_size(frame, model_trace) -> int:
    """The plate's size in this trace; a plate declared without a size (``pyro.plate("data")``)
    has the size its sites broadcast to there."""
    if frame.size is not None and frame.size > 0:
        return frame.size
    for _, site in _sample_sites(model_trace):
        for f in site["cond_indep_stack"]:
            if f.name == frame.name and f.vectorized:
                shape = site["fn"].batch_shape
                if len(shape) >= -f.dim:
                    return shape[f.dim]
    return 1


def sets_up_on_first_call(guide_fn) -> bool:
    """Whether the guide is an autoguide not yet set up: its first call sizes its parameters by
    the data it sees (AutoNormal's per-row means), so that call must see every row."""
    return isinstance(guide_fn, AutoGuide) and getattr(guide_fn, "prototype_trace", None) is None


@contextmanager
def trial_params():
    """``pyro.param`` values created inside vanish afterwards (Pyro's ``ParamStoreDict.scope``).

    A trial trace on part of the data must not fix the size of a hand-written guide's
    ``pyro.param("loc", torch.zeros(len(x)))`` before ppgen knows whether the program subsamples
    its own plate and so needs all rows.
    """
    store = pyro.get_param_store()
    with store.scope(state=store.get_state()):
        yield
