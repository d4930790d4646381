"""Progress on long work: a tqdm bar on a terminal, a few plain lines in a log.

A carriage-return progress bar written to a file or a pipe is hundreds of kilobytes of frames and
nothing a person can read (``ppgen demo > log`` once wrote about 390 KB of them). So where stderr
is not a terminal, :func:`progress_bar` prints plain lines instead: one when a run starts, one at
each quarter of it with the step and the loss, and one when it ends with the time it took; and
:func:`announce` prints one line per section of a long job.
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

#: Plain progress lines per run in a log, besides the first and the last.
LOG_LINES = 4


def stderr_is_terminal() -> bool:
    """Whether a live bar can be drawn: stderr is a terminal, or a notebook shows tqdm's widget."""
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


class PlainProgress:
    """The interface of the tqdm bar the training loop uses, as a few plain lines (module
    docstring)."""

    def __init__(self, total: int, initial: int = 0, desc: str = ""):
        self.total, self.n, self.desc = total, initial, desc
        self.postfix = ""
        self.start = time.perf_counter()
        self.marks = {round(total * k / LOG_LINES) for k in range(1, LOG_LINES)}
        resumed = f", resumed at step {initial}" if initial else ""
        self._line(f"{desc}: {total} steps{resumed}")

    def _line(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def update(self, count: int = 1) -> None:
        before, self.n = self.n, self.n + count
        if any(before < mark <= self.n for mark in self.marks):
            self._line(f"{self.desc}: step {self.n}/{self.total}{self.postfix}")

    def set_postfix(self, **values) -> None:
        self.postfix = "".join(f", {key} {value}" for key, value in values.items())

    def close(self) -> None:
        seconds = time.perf_counter() - self.start
        self._line(f"{self.desc}: done, step {self.n}/{self.total}{self.postfix}, {seconds:.1f} s")


class NoProgress:
    """Nothing shown (``progress=False``, or a process other than rank 0)."""

    n = 0

    def update(self, count: int = 1) -> None:
        self.n += count

    def set_postfix(self, **values) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, initial: int = 0, desc: str = "", shown: bool = True):
    """A tqdm bar on a terminal, :class:`PlainProgress` lines in a log, or nothing."""
    if not shown:
        bar = NoProgress()
        bar.n = initial
        return bar
    if stderr_is_terminal():
        return tqdm(total=total, initial=initial, desc=desc)
    return PlainProgress(total, initial, desc)


def announce(text: str, shown: bool = True) -> None:
    """One plain line on stderr for a section of a long job (``ppgen demo``)."""
    if shown:
        print(text, file=sys.stderr, flush=True)
