"""The compiled training step: an ELBO recorded once per batch shape as a TorchScript trace.

Pyro builds each step's model and guide traces in Python: effect handlers, distribution objects,
site bookkeeping. For a small network that Python work costs as much as the tensor maths (issue 7:
a VAE step took ~1.5x a hand-written PyTorch loop). :class:`CompiledObjective` runs the objective
once under ``torch.jit.trace``, which records the tensor operations it performs (random draws
included, so every call draws fresh noise) and replays them from C++ afterwards; backward goes
through the same autograd graph as eager.

A trace freezes Python control flow and shapes, so it is kept per input shape and is offered only
where it is exact:

- the estimator must be a pure function of the sampled values whose class says
  ``traceable = True`` (ppgen's ``trace``, ``iwae``, ``vimco``, ``rws``, ``enum``, ``tracegraph``
  without a baseline). A running baseline kept in Python between steps would be frozen at its
  first value. Pyro's own ELBOs report their value through ``.item()``, which a trace freezes
  too: ``Trace_ELBO``'s traced value is off by the score-function terms, ``TraceMeanField_ELBO``'s
  by ~0.6 nats on a VAE batch (the check below caught both), hence ppgen's ``TraceELBO``;
- the trainable tensors (module parameters and Pyro param-store parameters alike) are inputs of
  the trace, so updates by the optimizer reach it; any other tensor the programs read (a buffer,
  a constant) is baked in as it was when traced;
- each new trace is checked before use: from the same random state, the eager and the traced
  objective must give the same loss and the same gradient for every parameter (relative tolerance
  ``RTOL``). A trace that fails or disagrees is dropped with a warning and that shape runs eagerly.

Pyro's validation (NaN warnings, support checks) is off inside the trace: its checks turn tensors
into Python booleans, which a trace cannot replay.

The trace runs without TorchScript's graph optimizations (``torch.jit.optimized_execution(False)``):
the gain is the Python work skipped, not a rewritten graph. The optimizing executor differentiates
the graph symbolically, and that backward pass was slower than autograd's: the VAE's IWAE step with
K = 50 took 64 ms optimized, 54 ms unoptimized, 53 ms eager, 50 ms hand-written (one CPU thread).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pyro
import torch
from pyro.poutine.messenger import Messenger

from ..caller_warnings import warn
from ..inference.losses.compose import ELBOLoss
from ..program.random_state import forked_random_state

#: Relative tolerance of the eager-versus-traced check (float32 sums in another order).
RTOL = 1e-4


def is_traceable(objective) -> bool:
    """Whether ``objective`` (what ``resolve_objective`` returns) is an ELBO a trace replays
    exactly: no Python-side state carried between steps, no composed terms."""
    if type(objective) is not ELBOLoss:
        return False
    return bool(getattr(objective.estimator, "traceable", False))


class _DetachUnreparameterized(Messenger):
    """Detaches the values of sample sites without a reparameterized sampler.

    Pyro draws them under ``torch.no_grad()``, which a trace does not record: replayed, a
    Bernoulli draw would carry a (zero) gradient back into its network, wasted work. Detaching
    is what eager mode already has, made explicit.
    """

    def _pyro_post_sample(self, msg):
        if not msg["is_observed"] and not getattr(msg["fn"], "has_rsample", True):
            msg["value"] = msg["value"].detach()


class CompiledObjective:
    """Call as ``compiled(*args, **kwargs)``: the objective's value, from a checked trace where one
    exists for this input shape, else eagerly.

    Args:
        objective: a traceable objective (see :func:`is_traceable`).
        model_fn, guide_fn: the Pyro programs.
        parameters: every trainable tensor the programs read (module parameters, the
            unconstrained tensors behind ``pyro.param``); they become inputs of each trace.
    """

    def __init__(self, objective, model_fn, guide_fn, parameters):
        self.objective, self.model_fn, self.guide_fn = objective, model_fn, guide_fn
        self.parameters = list(parameters)
        self._traces: dict[tuple, object] = {}
        #: Why a shape runs eagerly, by input signature (empty when every shape is traced).
        self.fallbacks: dict[tuple, str] = {}

    @property
    def compiled(self) -> bool:
        """Whether every step so far ran from a trace."""
        return bool(self._traces) and not self.fallbacks

    def __call__(self, *args, **kwargs) -> torch.Tensor:
        if not torch.is_grad_enabled():  # evaluation: eager, no trace needed
            return self.objective(self.model_fn, self.guide_fn, *args, **kwargs)
        keywords = tuple(sorted(kwargs))
        values = (*args, *(kwargs[k] for k in keywords))
        # Tensors are inputs of the trace, keyed by shape; anything else is baked in, keyed by
        # identity (an unbatched model argument).
        key = (len(args), keywords) + tuple(
            (tuple(v.shape), v.dtype, v.device) if isinstance(v, torch.Tensor) else ("const", id(v))
            for v in values
        )
        if key not in self._traces:
            self._traces[key] = self._build(key, args, keywords, values)
        traced = self._traces[key]
        if traced is None:
            return self.objective(self.model_fn, self.guide_fn, *args, **kwargs)
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        with torch.jit.optimized_execution(False):  # see the module docstring
            return traced(*tensors, *self.parameters)

    def _build(self, key, args, keywords, values):
        tensor_slots = [i for i, v in enumerate(values) if isinstance(v, torch.Tensor)]

        def objective(*tensors):
            # Parameters arrive as inputs but are read, as always, through the modules and the
            # param store: the tracer knows them by identity and records them as inputs.
            filled = list(values)
            for slot, tensor in zip(tensor_slots, tensors):
                filled[slot] = tensor
            call_args = filled[: len(args)]
            call_kwargs = dict(zip(keywords, filled[len(args) :]))
            with _DetachUnreparameterized():
                return self.objective(self.model_fn, self.guide_fn, *call_args, **call_kwargs)

        inputs = (*(values[i] for i in tensor_slots), *self.parameters)
        # Tracing and checking draw random numbers; the run's stream must not notice, so that a
        # compiled run follows the eager one draw for draw.
        with (
            forked_random_state(),
            pyro.validation_enabled(False),
            torch.jit.optimized_execution(False),
            warnings.catch_warnings(record=True) as caught,
        ):
            # TracerWarnings from Pyro's and torch's own code (NaN checks, loss.item()) do not
            # change the value, and the check below guards correctness. One from the user's
            # program means it turned a tensor into a Python value: its control flow may depend
            # on the data, which a trace would freeze.
            warnings.simplefilter("always", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit's own notice
            try:
                traced = torch.jit.trace(objective, inputs, check_trace=False)
                problem = _users_tracer_warning(caught) or _compare(
                    objective, traced, inputs, self.parameters
                )
            except Exception as error:  # any failure to trace means: run eagerly
                problem = f"tracing failed ({_first_line(error)})"
        if problem:  # warned here, outside the block that records the tracer's warnings
            return self._fall_back(key, problem)
        return traced

    def _fall_back(self, key, reason: str) -> None:
        self.fallbacks[key] = reason
        warn(f"compile: {reason}; batches of shape {key[2][0] if len(key) > 2 else ()} run eagerly")
        return None


#: Packages whose TracerWarnings are diagnostics, not the user's control flow.
_LIBRARY_DIRS = tuple(
    str(Path(path).parent) for path in (torch.__file__, pyro.__file__, Path(__file__).parent)
)


def _users_tracer_warning(caught) -> str:
    """Why a trace cannot be trusted, from a TracerWarning raised in the user's code, or ''."""
    for warning in caught:
        if issubclass(warning.category, torch.jit.TracerWarning) and not str(
            warning.filename
        ).startswith(_LIBRARY_DIRS):
            message = str(warning.message).splitlines()[0]
            return (
                f"the program turns a tensor into a Python value at "
                f"{Path(warning.filename).name}:{warning.lineno} ({message}); its control flow "
                "may depend on the data, which a trace would freeze"
            )
    return ""


def _compare(eager, traced, inputs, parameters) -> str:
    """Empty if eager and traced give the same loss and gradients from one random state, else
    what differs."""
    results = []
    for fn in (eager, traced):
        with forked_random_state():
            value = fn(*inputs)
            grads = torch.autograd.grad(value, parameters, allow_unused=True)
        results.append((value.detach(), grads))
    (eager_value, eager_grads), (traced_value, traced_grads) = results
    if not _close(eager_value, traced_value):
        return (
            f"the traced loss {float(traced_value):.6g} differs from eager {float(eager_value):.6g}"
        )
    for index, (a, b) in enumerate(zip(eager_grads, traced_grads)):
        if (a is None) != (b is None) or (a is not None and not _close(a, b)):
            return f"the traced gradient of parameter {index} differs from eager"
    return ""


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    # Relative to the tensor's largest entry: sums in another order differ in the last bits.
    scale = float(a.abs().max()) if a.numel() else 0.0
    return torch.allclose(a, b, rtol=RTOL, atol=RTOL * scale + 1e-12)


def _first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
