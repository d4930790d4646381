"""The one :class:`Registry`, and its six instances: models, flows, estimators, losses, data sets
and presets.

Everything ppgen offers by name is registered next to its definition, in the file that defines
it, with a one-line description::

    @MODELS.register("ppca")
    class PPCA(GenerativeModel): ...

    DATASETS.register("digits", load_digits, description="scikit-learn's 8x8 digits")

A registry knows which package holds its built-in entries and imports that package the first time
it is asked for a name (each package imports every module in it, so a new file registers itself:
no list to edit). ``ppgen list`` and ``ppgen/catalogue.json`` are made from the registries
(:mod:`ppgen.catalogue`). Where an entry is built from options (``build``), unknown options are
refused by name before anything is built.

This module imports neither torch nor Pyro, so that ``ppgen list`` and ``ppgen --help`` stay fast.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


def check_name(name: str, choices: Iterable[str], what: str) -> str:
    """Check that ``name`` is one of ``choices``; otherwise raise a ``ValueError`` listing them.

    Close misspellings get a "did you mean" hint.
    """
    choices = sorted(choices)
    if isinstance(name, str) and name in choices:
        return name
    hint = difflib.get_close_matches(str(name), choices, n=1)
    suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
    raise ValueError(f"unknown {what} {name!r}; choose one of {', '.join(choices)}.{suggestion}")


def first_doc_line(value) -> str:
    """The first line of ``value``'s docstring, or ``""``."""
    doc = inspect.getdoc(value) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


@dataclass(frozen=True)
class Entry:
    """One registered name: what it stands for, its one-line description, the module that
    registered it, and anything else the registry's users declare about it (``extra``)."""

    name: str
    value: object
    description: str
    module: str
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Preset:
    """A model trained by a loss, offered under a name of its own (``ppgen fit gmmn``)."""

    model: str
    loss: str


class Registry:
    """Names of one kind (``"model"``, ``"estimator"``...) and what they stand for.

    Args:
        kind: what an entry is, for messages (``"unknown model 'ppcaa'"``).
        package: the package whose import registers the built-in entries (imported on first
            lookup).
    """

    def __init__(self, kind: str, package: str | None = None):
        self.kind, self.package = kind, package
        self._entries: dict[str, Entry] = {}
        self._loaded = package is None

    # ----- registering -----------------------------------------------------------------------
    def register(
        self, name: str, value=None, *, description: str | None = None, stacklevel=1, **extra
    ):
        """Register ``value`` under ``name``; without ``value``, a decorator.

        ``description``: one line for ``ppgen list`` (default: the first line of ``value``'s
        docstring). ``extra``: facts its users read (e.g. a data set's ``example``). The entry
        records the module that registered it (the catalogue holds ppgen's own): the caller's,
        or with ``stacklevel=2`` its caller's, as in :func:`warnings.warn`.
        """
        module = sys._getframe(stacklevel).f_globals.get("__name__", "?")
        if value is None:

            def decorate(target):
                self._add(name, target, description, extra, module)
                return target

            return decorate
        return self._add(name, value, description, extra, module)

    def _add(self, name, value, description, extra, module):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if name in self._entries:
            raise ValueError(f"a {self.kind} named {name!r} is already registered")
        text = description if description is not None else first_doc_line(value)
        self._entries[name] = Entry(name, value, text, module, dict(extra))
        return value

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests that register something of their own clean up with this)."""
        self._entries.pop(check_name(name, self._entries, self.kind))

    @contextmanager
    def registered(self, name: str, value, *, description: str | None = None, **extra):
        """``name`` registered for the duration of a ``with`` block."""
        module = sys._getframe(2).f_globals.get("__name__", "?")  # contextmanager adds one
        self._add(name, value, description, extra, module)
        try:
            yield value
        finally:
            self._entries.pop(name, None)

    # ----- looking up ------------------------------------------------------------------------
    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self.package)

    def entry(self, name: str) -> Entry:
        self._load()
        return self._entries[check_name(name, self._entries, self.kind)]

    def get(self, name: str):
        """What ``name`` stands for (a class, a builder, a loader...)."""
        return self.entry(name).value

    def build(self, name: str, **options):
        """``get(name)(**options)``, refusing options the builder does not take, by name."""
        builder = self.get(name)
        check_options(builder, options, f"{self.kind} {name!r}")
        return builder(**options)

    def entries(self) -> dict[str, Entry]:
        self._load()
        return dict(sorted(self._entries.items()))

    def values(self) -> dict[str, object]:
        return {name: entry.value for name, entry in self.entries().items()}

    def descriptions(self) -> dict[str, str]:
        return {name: entry.description for name, entry in self.entries().items()}

    def loaded_entries(self) -> dict[str, Entry]:
        """The entries registered so far in this process, without importing the package (what
        ``ppgen list`` adds to the stored catalogue: entries a user registered)."""
        return dict(sorted(self._entries.items()))

    def __contains__(self, name) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self.entries())

    def __repr__(self) -> str:
        return f"<Registry of {len(self)} {self.kind}s>"


def accepted_options(builder: Callable) -> tuple[list[str], bool]:
    """``(names, takes_any)``: the keyword options ``builder`` takes, and whether it takes any
    (``**options``)."""
    target = builder.__init__ if isinstance(builder, type) else builder
    parameters = list(inspect.signature(target).parameters.values())
    if isinstance(builder, type):
        parameters = parameters[1:]  # self
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    names = [
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    return names, takes_any


def check_options(builder: Callable, options: dict, what: str) -> None:
    """Refuse options that ``builder`` does not take, naming them and the ones it does."""
    names, takes_any = accepted_options(builder)
    unknown = sorted(set(options) - set(names))
    if unknown and not takes_any:
        raise ValueError(
            f"{what} takes no option(s) {', '.join(unknown)}; "
            f"it accepts {', '.join(names) or 'none'}"
        )


def import_submodules(package_name: str, package_path) -> None:
    """Import every module and sub-package of a package, so that each file's registrations run:
    a package's ``__init__`` calls ``import_submodules(__name__, __path__)``, and a new file in
    it needs no import line anywhere."""
    for module in pkgutil.iter_modules(package_path):
        importlib.import_module(f"{package_name}.{module.name}")


#: Model classes (:class:`ppgen.models.GenerativeModel` subclasses).
MODELS = Registry("model", "ppgen.models")
#: Flow builders ``build(dim, num_layers, hidden_dims, **options) -> Flow``.
FLOWS = Registry("flow", "ppgen.models.flows")
#: Estimator classes (:class:`ppgen.inference.estimator.Estimator` subclasses).
ESTIMATORS = Registry("estimator", "ppgen.inference")
#: Custom loss factories ``factory(**options) -> Loss``.
LOSSES = Registry("loss", "ppgen.inference.losses")
#: Data-set loaders ``loader(**options) -> Dataset``.
DATASETS = Registry("data set", "ppgen.data")
#: :class:`Preset` s: a model name trained by a loss name, for ``ppgen fit NAME``.
PRESETS = Registry("preset", "ppgen.models")

#: Every registry by its section in ``ppgen list`` and the catalogue.
REGISTRIES = {
    "models": MODELS,
    "presets": PRESETS,
    "flows": FLOWS,
    "estimators": ESTIMATORS,
    "losses": LOSSES,
    "data sets": DATASETS,
}
