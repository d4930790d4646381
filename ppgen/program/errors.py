"""``ProgramError``, the one exception for "ppgen cannot run this program this way", and the
helpers that turn a failure inside a user's Pyro program into one that names the site and the
reason (the last site that completed, the vectorization rule)."""

from __future__ import annotations

from pyro.poutine.messenger import Messenger
from pyro.poutine.subsample_messenger import _Subsample

from .sites import SAMPLE_PLATE


class ProgramError(ValueError):
    """A model/guide pair that an estimator, ``fit`` or an evaluation cannot run as asked; the
    message names the site (or plate) and the reason."""


class _LastSite(Messenger):
    """Remembers the last sample site that completed, and its value's shape."""

    def __init__(self):
        super().__init__()
        self.name, self.shape = None, None

    def _pyro_post_sample(self, msg):
        if not isinstance(msg["fn"], _Subsample) and msg["name"] != SAMPLE_PLATE:
            self.name, self.shape = msg["name"], tuple(msg["value"].shape)


def _failure_site(fn) -> str:
    """Run ``fn`` again, recording sites, and say where it stopped."""
    recorder = _LastSite()
    try:
        with recorder:
            fn()
    except Exception:  # the same failure again; we only wanted the site
        pass
    if recorder.name:
        return f"after site {recorder.name!r} (its value had shape {recorder.shape})"
    return "before its first sample site"


#: The exceptions a Pyro program raises for shape, support and argument problems.
PROGRAM_FAILURES = (
    RuntimeError,
    ValueError,
    IndexError,
    TypeError,
    NotImplementedError,
    KeyError,
    AssertionError,  # programs that assert their own shapes (as Pyro's tests do)
)


def first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def run_vectorized(traces, num_samples: int):
    """``traces()`` (which runs the programs under a sample plate); a failure there becomes a
    :class:`ProgramError` that names the last site completed and the vectorization rule."""
    try:
        return traces()
    except ProgramError:
        raise
    except PROGRAM_FAILURES as error:
        raise ProgramError(
            f"the program failed with {num_samples} vectorized draws {_failure_site(traces)}: "
            f"{first_line(error)}. ppgen draws samples in a plate to the left "
            "of the program's plates, so every latent gets leading sample dimensions; a "
            "program that broadcasts over them runs in one pass: index and reshape from the "
            "right (z[..., i], z.reshape(z.shape[:-1] + (a, b))), and declare every batch "
            "dimension with pyro.plate(..., dim=...)"
        ) from error


def run_named(fn, what: str):
    """``fn()``; a failure becomes a :class:`ProgramError` saying ``what`` failed and after which
    site (for the first run of a user's program under an estimator)."""
    try:
        return fn()
    except ProgramError:
        raise
    except PROGRAM_FAILURES as error:
        raise ProgramError(f"{what} failed {_failure_site(fn)}: {first_line(error)}") from error
