"""Per-datapoint bounds and estimates of ``log p(x)`` from importance weights.

- :func:`elbo`: the mean of ``log w`` over samples, a lower bound on ``log p(x)`` in expectation.
- :func:`log_likelihood`: ``log (1/S) sum_s w_s`` with the guide as proposal, the importance-sampled
  estimate used to report test log-likelihoods (S = 5000 as in Burda et al. 2016). It is itself the
  S-sample importance-weighted bound, so it is biased low and tightens as S grows.
- :func:`bits_per_dim`: a log-likelihood in the unit of the flow literature.

Both run in chunks so that memory stays bounded whatever the number of samples and points:
``chunk_size`` samples for ``batch_size`` data points at a time, i.e. at most
``chunk_size * batch_size`` (sample, point) pairs in one vectorized pass. Chunking changes how the
work is split, never the result: the chunks' log-sum-exps are combined exactly.
``benchmarks/memory_scaling.py`` records time and peak memory against both.

Inside a ``torch.distributed`` group (``torchrun``, or code run by
:func:`ppgen.training.distributed.launch`) both are collective: every rank must call them with
the same data; each scores its contiguous share of the points with its own noise, and every rank
gets all points' values, in order.
"""

from __future__ import annotations

import math

import torch

from ..program.program import Program
from ..training.distributed.ranks import current_ranks
from ..training.distributed.sync import gather_rows
from ..validation import check_name, check_positive_int
from .weights import PointWeights, check_num_samples


def _chunks(total: int, size: int):
    check_positive_int(size, "chunk_size", allow_none=False)
    for start in range(0, total, size):
        yield min(size, total - start)


def _row_calls(program, x, batch_size, kwargs: dict, kind: str = "marginal", shard: bool = True):
    """``(calls, weights)``: ``(args, kwargs)`` for ``batch_size`` rows at a time (all rows for
    ``None``; keyword tensors with one row per data point, e.g. labels, are split alike) and the
    pair's :class:`PointWeights`."""
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    spec = program.data(x, kwargs)
    rows = spec.num_rows
    first_rows = None if rows is None else min(rows, batch_size or rows)
    share = None
    if (
        shard and rows is not None and current_ranks().active
    ):  # this rank's points (module docstring)
        offset, length = current_ranks().part(rows)
        share = range(offset, offset + length)
    return spec.chunks(batch_size, share), PointWeights(program, first_rows, kind)


def _gathered(parts: list) -> torch.Tensor:
    """This rank's per-point values joined, then every rank's, in order."""
    mine = torch.cat(parts) if parts else torch.empty(0)
    return gather_rows(current_ranks(), mine)


@torch.no_grad()
def elbo(
    model,
    x,
    num_samples: int = 1,
    chunk_size: int = 100,
    batch_size: int | None = 1000,
    *,
    data_plate: str | None = None,
    **kwargs,
) -> torch.Tensor:
    """Monte Carlo ELBO per data point, shape ``(num_points,)``, averaged over ``num_samples``.

    ``x``: the data the programs take (a tensor of any shape with rows on dim 0, a tuple or dict
    of tensors); ``kwargs`` go to model and guide (e.g. ``y=`` labels). ``chunk_size`` samples
    for ``batch_size`` points (``None``: all) at a time. ``data_plate`` names the plate over data
    points where the program's trace cannot tell it."""
    check_num_samples(num_samples)
    program = Program.of(model, data_plate)
    calls, weights = _row_calls(program, x, batch_size, kwargs)
    parts = []
    with program.scope():
        for args, row_kwargs in calls:
            total = sum(
                weights(args, row_kwargs, n).sum(0) for n in _chunks(num_samples, chunk_size)
            )
            parts.append(total / num_samples)
    return _gathered(parts)


@torch.no_grad()
def log_likelihood(
    model,
    x,
    num_samples: int = 5000,
    chunk_size: int = 100,
    batch_size: int | None = 1000,
    kind: str = "marginal",
    *,
    data_plate: str | None = None,
    **kwargs,
) -> torch.Tensor:
    """Importance-sampled log-likelihood per data point, shape ``(num_points,)``.

    ``x``: the data the programs take (a tensor of any shape with rows on dim 0, a tuple or dict
    of tensors); ``kwargs`` go to model and guide (e.g. ``y=`` labels, which makes it
    ``log p(x | y)``). ``chunk_size`` samples for ``batch_size`` points (``None``: all) at a
    time. The data plate is found from the program, whatever its name; nested and sequential
    plates, ``pyro.markov`` and masks are summed into each point's weight. ``kind``:

    - ``"marginal"`` (default): ``log p(x_n)`` with the guide as proposal; with
      ``num_samples=K`` it is the K-sample IWAE bound of every point. Every latent must be local.
    - ``"predictive"``: for a program with global latents ``theta``, the posterior predictive
      under the guide, ``log E_q(theta) p(x_n | theta)``, each draw ``theta_s`` with its own
      local draws (an estimate that is biased low, like the marginal one, and exact as
      ``num_samples`` grows when the locals' guide is exact).

    The joint ``log p(x_1..N)`` of a program with global latents is :func:`joint_log_likelihood`.
    ``data_plate`` names the plate over data points where the program's trace cannot tell it.
    """
    check_name(kind, ("marginal", "predictive"), "log-likelihood kind")
    check_num_samples(num_samples)
    program = Program.of(model, data_plate)
    calls, weights = _row_calls(program, x, batch_size, kwargs, kind)
    parts = []
    with program.scope():
        for args, row_kwargs in calls:
            parts.append(_log_mean_exp(weights, args, row_kwargs, num_samples, chunk_size))
    return _gathered(parts)


@torch.no_grad()
def joint_log_likelihood(
    model, x, num_samples: int = 5000, chunk_size: int = 100, *, data_plate=None, **kwargs
) -> torch.Tensor:
    """The importance-weighted estimate of ``log p(x_1..N)``, all points jointly (a scalar).

    Draws ``(theta_s, z_s) ~ q`` for the whole data set at once and returns
    ``log (1/S) sum_s p(x, theta_s, z_s) / q(theta_s, z_s)``: a lower bound in expectation that
    tightens to ``log p(x_1..N)`` as ``num_samples`` grows, exact when the guide is the posterior.
    For a program whose latents are all local it equals the sum of per-point estimates in
    expectation; it is the quantity for programs with global latents.
    """
    check_num_samples(num_samples)
    program = Program.of(model, data_plate)
    calls, weights = _row_calls(program, x, None, kwargs, "joint", shard=False)
    with program.scope():
        (args, call_kwargs), *_ = calls
        return _log_mean_exp(weights, args, call_kwargs, num_samples, chunk_size)[0]


def _log_mean_exp(weights, args, kwargs, num_samples: int, chunk_size: int) -> torch.Tensor:
    """``log (1/S) sum_s w_s`` per column of the weights, over sample chunks."""
    running = None  # log sum of the weights seen so far, (points,)
    for n in _chunks(num_samples, chunk_size):
        chunk = torch.logsumexp(weights(args, kwargs, n), dim=0)
        running = chunk if running is None else torch.logaddexp(running, chunk)
    return running - math.log(num_samples)


def bits_per_dim(log_lik, num_dims: int, log_det: float = 0.0):
    """Negative log-likelihood in bits per dimension, ``-(log_lik - log_det) / (num_dims log 2)``.

    For uniformly dequantized data (``load_dataset(..., dequantize=True)``) pass
    ``log_det=data.dequantization_log_det`` (``D log num_levels``): it converts the
    density on [0, 1)^D back to the discrete pixel levels, the scale the literature reports
    (Theis et al. 2016). Works on tensors and floats alike.
    """
    check_positive_int(num_dims, "num_dims", allow_none=False)
    return -(log_lik - log_det) / (num_dims * math.log(2))
