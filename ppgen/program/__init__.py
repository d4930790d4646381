"""A Pyro program as ppgen sees it: a model/guide pair resolved (:mod:`.pair`), its own parameter
store (:mod:`.param_scope`), the data of a call (:mod:`.data_spec`), its structure read off one
trace (:mod:`.inspection`), site predicates (:mod:`.sites`), importance weights
(:mod:`.importance`) and :class:`ProgramError` (:mod:`.errors`)."""

from .errors import ProgramError

__all__ = ["ProgramError"]
