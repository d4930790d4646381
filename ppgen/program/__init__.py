"""A Pyro program as ppgen sees it. The entry point is :class:`Program` / :func:`read_program`
(:mod:`.program`); beneath it: the pair split into its programs (:mod:`.pair`), its own parameter
store (:mod:`.param_scope`), the data of a call (:mod:`.data_spec`), its structure read off one
trace (:mod:`.inspection`), site predicates (:mod:`.sites`), importance weights
(:mod:`.importance`) and :class:`ProgramError` (:mod:`.errors`)."""

from .errors import ProgramError
from .inspection import ProgramInfo
from .program import Program, ProgramCall, read_program

__all__ = ["Program", "ProgramCall", "ProgramError", "ProgramInfo", "read_program"]
