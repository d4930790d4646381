"""The one entry point to a model/guide pair: :class:`Program` and :func:`read_program`.

Everything above this layer (estimators, ``fit``, every evaluation and the ArviZ conversion) meets
a user's pair, or a ppgen model, the same way:

1. :meth:`Program.of` resolves what the caller passed (a :class:`~ppgen.models.GenerativeModel`,
   a pair of its bound methods, or a plain ``(model, guide)`` pair of Pyro callables) into its two
   programs and what it declares: a ppgen model its data plate and plate nesting, a plain pair
   nothing (they are read off a trace). ``data_plate=`` overrides the plate, for programs whose
   trace cannot tell it (a ``pyro.factor`` outside the data plate, several plates of one size);
2. :meth:`Program.scope` is the pair's own parameter store (:mod:`.param_scope`);
3. :meth:`Program.data` is the data of a call (:class:`~ppgen.program.data_spec.DataSpec`);
4. :meth:`Program.inspect` traces the pair once on a call and describes it
   (:class:`~ppgen.program.inspection.ProgramInfo`); run it in the pair's scope (Pyro's parameter
   store scopes do not nest: a scope entered inside another one forgets, on exit, the parameters
   created in it).

:func:`read_program` does all four for an evaluation on data ``x`` and returns a
:class:`ProgramCall`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .data_spec import DataSpec
from .inspection import ProgramInfo, inspect_program
from .pair import leading_rows, owned_modules, split_pair
from .param_scope import pair_params


@dataclass(frozen=True)
class Program:
    """A resolved pair (module docstring). ``declared_plate``/``declared_nesting``: what the
    pair declares or the caller named, ``None`` where a trace must tell."""

    model: object
    model_fn: object
    guide_fn: object
    declared_plate: str | None
    declared_nesting: int | None

    @classmethod
    def of(cls, model, data_plate: str | None = None, nesting: int | None = None) -> Program:
        model_fn, guide_fn, plate, declared_nesting = split_pair(model)
        if data_plate is not None and not isinstance(data_plate, str):
            raise TypeError(f"data_plate must be a plate name (str) or None, got {data_plate!r}")
        return cls(
            model,
            model_fn,
            guide_fn,
            data_plate if data_plate is not None else plate,
            nesting if nesting is not None else declared_nesting,
        )

    @property
    def pair(self) -> tuple:
        return self.model_fn, self.guide_fn

    def scope(self, training: bool = False):
        """The pair's own ``pyro.param`` store, as a context manager (:mod:`.param_scope`)."""
        return pair_params(self.model_fn, self.guide_fn, training=training)

    def modules(self) -> list:
        """The ``nn.Module`` objects behind the two programs."""
        return owned_modules(self.model_fn, self.guide_fn)

    def data(self, x, kwargs: dict | None = None) -> DataSpec:
        """The data of an evaluation call on ``x`` (a ppgen model checks it as its own data)."""
        return DataSpec.for_call(self.model, x, kwargs or {})

    def inspect(self, args: tuple = (), kwargs: dict | None = None, num_rows=None) -> ProgramInfo:
        """The pair traced once on ``args``/``kwargs``, in the parameter store in force (enter
        :meth:`scope` first)."""
        return inspect_program(
            self.model_fn,
            self.guide_fn,
            args,
            kwargs or {},
            data_plate=self.declared_plate,
            num_rows=num_rows,
        )

    def nesting(self, info: ProgramInfo) -> int:
        """The plate nesting: declared, else the trace's."""
        return info.nesting if self.declared_nesting is None else self.declared_nesting

    def resolved(self, args: tuple, kwargs: dict) -> ResolvedPair:
        """The two programs with their data plate and nesting for a call, traced only where the
        pair does not declare them (a ppgen model pays nothing)."""
        plate, nesting = self.declared_plate, self.declared_nesting
        if plate is None or nesting is None:
            info = self.inspect(args, kwargs, num_rows=leading_rows(args, kwargs))
            plate, nesting = info.data_plate, self.nesting(info)
        return ResolvedPair(self.model_fn, self.guide_fn, plate, nesting)


@dataclass(frozen=True)
class ResolvedPair:
    """The two programs of a pair with the data plate and plate nesting of a call."""

    model_fn: object
    guide_fn: object
    data_plate: str | None
    nesting: int


class PairCache:
    """Remembers the resolution of the last pair seen (an estimator is called with one pair, step
    after step); ``data_plate``/``nesting`` override what the pair declares or a trace shows."""

    def __init__(self, data_plate=None, nesting: int | None = None):
        self.data_plate, self.nesting = data_plate, nesting
        self._key, self._resolved = None, None

    def __call__(self, model, guide, args: tuple, kwargs: dict) -> ResolvedPair:
        key = (model, guide)
        if self._resolved is None or self._key != key:
            program = Program.of((model, guide), self.data_plate, self.nesting)
            self._resolved = program.resolved(args, kwargs)
            self._key = key
        return self._resolved


@dataclass(frozen=True)
class ProgramCall:
    """A pair read for one call: the :class:`Program`, the call's data and the trace's
    description (:class:`~ppgen.program.inspection.ProgramInfo`)."""

    program: Program
    spec: DataSpec
    info: ProgramInfo

    @property
    def nesting(self) -> int:
        return self.program.nesting(self.info)

    @property
    def data_plate(self) -> str | None:
        return self.info.data_plate


def read_program(model, x=None, kwargs: dict | None = None, *, data_plate=None) -> ProgramCall:
    """The pair ``model`` on data ``x`` (any form a program takes; ``kwargs`` go to both
    programs), resolved and traced once (module docstring)."""
    program = Program.of(model, data_plate)
    spec = program.data(x, kwargs)
    with program.scope():
        info = program.inspect(*spec.call(), num_rows=spec.num_rows)
    return ProgramCall(program, spec, info)
