"""Per-datapoint log importance weights of a fitted pair, with the checks a public entry needs.

``log_importance_weights(model, x, S)`` is ``log p(x_n, z_s) - log q(z_s | x_n)`` for ``S`` draws
per data point, shape ``(S, num_points)``, built on :mod:`ppgen.program.importance`. ``x`` is what
the programs take: a tensor of any shape (rows on dim 0), a tuple or dict of tensors, or ``None``;
keyword arguments go to both programs (tensors with one row per data point are split with the
rows when evaluating in chunks, e.g. the labels ``y`` of a class-conditional VAE).

Per-datapoint weights exist where every latent lies in the data plate and the program evaluates
every row. A program with global latents, or one that subsamples its own data plate, is refused
with the reason (its multi-sample bounds are trained on joint weights instead; see
:mod:`ppgen.inference.multi_sample`).
"""

from __future__ import annotations

import torch

from ..program.errors import ProgramError
from ..program.importance import weight_parts
from ..program.particles import ParticleDraws
from ..program.program import Program
from ..validation import check_positive_int


def check_num_samples(num_samples) -> None:
    check_positive_int(num_samples, "num_samples", allow_none=False)


def point_program(
    program: Program, args: tuple, kwargs: dict, rows: int | None, kind: str = "marginal"
):
    """``(model_fn, guide_fn, data_plate, nesting)`` of a program with per-datapoint weights, read
    off one call with ``rows`` batched data rows; refuses the others (module docstring). Global
    latents are refused for ``kind="marginal"`` only."""
    info = program.inspect(args, kwargs, num_rows=rows)
    if info.data_plate is None:
        raise ProgramError(
            "per-datapoint weights need a vectorized plate over the data points that every "
            f"observed site shares ({', '.join(info.observed)}); the program's plates: "
            f"{info.describe_plates()}"
        )
    if info.subsamples:
        raise ProgramError(
            f"the program subsamples its data plate {info.data_plate!r} ({info.num_points} of "
            f"{info.full_size} rows per call): per-datapoint values need every row; evaluate it "
            "with subsampling off (e.g. subsample_size=None through a model argument)"
        )
    missing = [n for n in info.model_only_latents if n not in info.enumerated]
    if missing:
        raise ProgramError(
            f"model latent(s) {missing} have no guide site: importance weights need q for "
            "every latent"
        )
    if info.global_latents and kind == "marginal":
        raise ProgramError(
            f"latent site(s) {list(info.global_latents)} lie outside the data plate "
            f"{info.data_plate!r} (global latents): log p(x_n) per data point is not a sum of "
            "per-point weights. Use kind='predictive' (log E_q(globals) p(x_n | globals), the "
            "posterior predictive under the guide), joint_log_likelihood (log p(x_1..N)), or "
            "ppgen.analysis.to_inference_data"
        )
    return program.model_fn, program.guide_fn, info.data_plate, program.nesting(info)


class PointWeights:
    """``weights(args, kwargs, num_samples)`` for one pair; the program is inspected on the first
    call only (chunks of one evaluation share it). ``first_rows``: the number of batched data
    rows in the first call (``None``: no batched data), which tells the data plate apart from
    other plates. ``kind``:

    - ``"marginal"``: ``log p(x_n, z_sn) - log q(z_sn | x_n)``, ``(num_samples, num_points)``;
      every latent must be local;
    - ``"predictive"``: the same local terms at the guide's draws of the globals ``theta_s``,
      ``log p(x_n, z_sn | theta_s) - log q(z_sn | ...)``: their log-mean-exp over draws estimates
      the posterior predictive ``log E_q(theta) p(x_n | theta)``;
    - ``"joint"``: ``log p(x, theta_s, z_s) - log q(theta_s, z_s)`` of all points at once,
      ``(num_samples, 1)``: its log-mean-exp is the importance-weighted bound on
      ``log p(x_1..N)``.
    """

    def __init__(self, program: Program, first_rows: int | None, kind: str = "marginal"):
        self.program, self.first_rows, self.kind, self.resolved = program, first_rows, kind, None
        self.particles = ParticleDraws()  # one at a time where the program does not vectorize

    def __call__(self, args: tuple, kwargs: dict, num_samples: int) -> torch.Tensor:
        if self.resolved is None:
            self.resolved = point_program(self.program, args, kwargs, self.first_rows, self.kind)
        model_fn, guide_fn, data_plate, nesting = self.resolved
        parts = weight_parts(
            model_fn, guide_fn, args, kwargs, num_samples, data_plate, nesting,
            draws=self.particles,
        )  # fmt: skip
        return parts.joint().log_w if self.kind == "joint" else parts.log_w


def log_importance_weights(
    model, x, num_samples: int, *, data_plate: str | None = None, **kwargs
) -> torch.Tensor:
    """``log p(x, z_s) - log q(z_s | x)`` for ``num_samples`` draws ``z_s ~ q``, shape
    ``(num_samples, num_points)`` (module docstring). ``model`` is a
    :class:`~ppgen.models.GenerativeModel` or a ``(model, guide)`` pair; ``data_plate`` names
    the plate over data points where the trace cannot tell it."""
    program = Program.of(model, data_plate)
    spec = program.data(x, kwargs)
    check_num_samples(num_samples)
    with program.scope():
        args, call_kwargs = spec.call()
        return PointWeights(program, spec.num_rows)(args, call_kwargs, num_samples)
