"""Drawing K particles of a program: in one vectorized pass where it broadcasts, else one at a time.

ppgen draws the samples of its multi-sample estimators and evaluations in one pass, inside a plate
over samples to the left of the program's plates (:func:`vectorize`).
Many programs written for Pyro do not broadcast over such a dimension: they index from the left
(``z[:, 0]``), assert their own shapes, index with a boolean mask, transpose a sampled matrix or
run batch norm. Pyro's own ``RenyiELBO(num_particles=3)`` and ``Predictive`` run them with
sequential particles, and so does ppgen: when the vectorized pass fails, :class:`ParticleDraws`
says so in one warning (:class:`SequentialDrawsWarning`) and from then on draws the particles one
at a time, stacking their traces into one trace laid out as a vectorized one (:func:`stack_traces`),
so that everything downstream reads it unchanged. It is slower (K program runs per call), and
exact: each particle is an independent draw, as in the vectorized pass.
"""

from __future__ import annotations

import pyro
import pyro.poutine as poutine
import torch
from pyro.poutine.indep_messenger import CondIndepStackFrame

from ..caller_warnings import warn
from .errors import ProgramError, run_named, run_vectorized
from .sites import SAMPLE_PLATE, is_index_site


def vectorize(fn, num_samples: int, sample_dim: int):
    """``fn`` inside a plate of ``num_samples`` at ``sample_dim``, left of the program's plates."""

    def wrapped(*args, **kwargs):
        with pyro.plate(SAMPLE_PLATE, num_samples, dim=sample_dim):
            return fn(*args, **kwargs)

    return wrapped


class SequentialDrawsWarning(UserWarning):
    """A program did not run with vectorized draws; ppgen draws its particles one at a time."""


def _padded(tensor: torch.Tensor, event_dim: int, nesting: int) -> torch.Tensor:
    """``tensor`` with its batch dimensions padded on the left to ``nesting`` (the layout a site
    has under a sample plate at ``-nesting - 1``, before the sample dimension is added)."""
    batch_dims = tensor.dim() - event_dim
    return tensor.reshape((1,) * max(0, nesting - batch_dims) + tensor.shape)


def stack_traces(traces: list, sample_dim: int) -> poutine.Trace:
    """One trace of ``len(traces)`` unvectorized draws laid out as a vectorized one: every latent
    site's value and log-densities stacked along a sample dimension at ``sample_dim`` (with the
    sample plate in its ``cond_indep_stack``); observed values, plate indices and other nodes as
    in the first draw."""
    first, count, nesting = traces[0], len(traces), -sample_dim - 1
    names = list(first.nodes)
    for index, trace in enumerate(traces[1:], start=1):
        if list(trace.nodes) != names:
            raise ProgramError(
                f"drawn one at a time, the program's sites differ between draws (draw 0: "
                f"{names}, draw {index}: {list(trace.nodes)}); ppgen cannot stack its particles"
            )
    frame = CondIndepStackFrame(SAMPLE_PLATE, sample_dim, count, 0)
    stacked = poutine.Trace()
    for name, site in first.nodes.items():
        if site["type"] != "sample" or is_index_site(site):
            stacked.add_node(name, **site)
            continue
        sites = [trace.nodes[name] for trace in traces]
        event_dim = site["fn"].event_dim
        new = dict(site, cond_indep_stack=(*site["cond_indep_stack"], frame))
        if not site["is_observed"]:
            new["value"] = torch.stack([_padded(s["value"], event_dim, nesting) for s in sites])
        for key in ("log_prob", "unscaled_log_prob"):
            if key in site:
                new[key] = torch.stack([_padded(s[key], 0, nesting) for s in sites])
        if "log_prob_sum" in site:
            new["log_prob_sum"] = sum(s["log_prob_sum"] for s in sites)
        stacked.add_node(name, **new)
    return stacked


class ParticleDraws:
    """How one pair's particles are drawn (module docstring); keeps its choice between calls, so
    that a training loop tries the vectorized pass once.

    :meth:`trace` runs a program over ``num_samples`` draws, optionally replaying the latent
    values of an earlier result of :meth:`trace`; in sequential mode each draw replays its own.
    """

    def __init__(self, sequential: bool = False):
        self.sequential = sequential
        self._draws: dict[int, list] = {}  # id(stacked trace) -> its per-draw traces

    def trace(
        self, fn, args: tuple, kwargs: dict, num_samples: int, sample_dim: int,
        replay_from=None, score=None,
    ) -> poutine.Trace:  # fmt: skip
        """The trace of ``fn`` over ``num_samples`` draws; ``score(trace)`` computes what the
        caller reads (log-densities) on each trace before stacking."""
        if not self.sequential:
            fn = vectorize(fn, num_samples, sample_dim)
            if replay_from is not None:
                fn = poutine.replay(fn, trace=replay_from)
            trace = poutine.trace(fn).get_trace(*args, **kwargs)
            return score(trace) if score else trace
        sources = self._draws.get(id(replay_from)) if replay_from is not None else None
        if replay_from is not None and sources is None:
            raise ValueError("replay_from must be a trace this ParticleDraws drew")
        traces = []
        for k in range(num_samples):
            one = fn if sources is None else poutine.replay(fn, trace=sources[k])
            trace = poutine.trace(one).get_trace(*args, **kwargs)
            traces.append(score(trace) if score else trace)
        stacked = stack_traces(traces, sample_dim)
        self._draws[id(stacked)] = traces
        return stacked

    def derived(self, stacked: poutine.Trace, transform) -> poutine.Trace:
        """``transform`` applied to ``stacked`` (vectorized) or to each of its draws, stacked
        again (sequential), to replay from (e.g. float64 copies of the draws)."""
        if not self.sequential:
            return transform(stacked)
        traces = [transform(trace) for trace in self._draws[id(stacked)]]
        result = stack_traces(traces, _sample_dim(stacked))
        self._draws[id(result)] = traces
        return result

    def run(self, traces, num_samples: int, what: str):
        """``traces(draws)`` vectorized, or, where the program does not run with vectorized
        draws, again one draw at a time, said once; a failure then names ``what`` and the site."""
        if not self.sequential:
            try:
                return run_vectorized(lambda: traces(self), num_samples)
            except ProgramError as error:
                if error.__cause__ is None:  # refused by ppgen, not a failure of the program
                    raise
                warn(
                    f"{what}: {error}; so ppgen draws the {num_samples} samples one at a time "
                    "(slower)",
                    SequentialDrawsWarning,
                )
                self.sequential = True
                self._draws.clear()
        return run_named(lambda: traces(self), f"{what}, drawn one at a time,")


def _sample_dim(trace) -> int:
    for site in trace.nodes.values():
        for frame in site.get("cond_indep_stack", ()):
            if frame.name == SAMPLE_PLATE:
                return frame.dim
    raise ValueError("the trace has no sample plate")
