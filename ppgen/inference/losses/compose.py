"""Losses that add and scale: ``elbo("trace") + 10 * MMDLoss(site="z", target="prior")``.

Every ppgen objective is a callable ``loss(model, guide, *args, **kwargs) -> tensor`` whose value is
summed over the batch (``fit`` divides by the batch size). :class:`Loss` gives such callables
arithmetic: ``a + b`` evaluates both on the same batch and adds them; ``c * a`` scales one. Any
term may be an estimator name, a Pyro ELBO or a plain loss callable (wrapped by :func:`as_loss`).

A composed loss forwards what ``fit`` asks of its terms:

- ``parameters()``: learnable state of an estimator (NVIL's baseline), trained with the model;
- ``adversary_parameters()`` / ``adversary_loss(...)`` / ``adversary_steps``: a second player
  (a GAN discriminator) that ``fit`` trains with its own optimizer between the model's steps;
- ``state_dict()`` / ``load_state_dict()`` for checkpoints, ``to(device)``;
- ``last_parts``: each named term's value at the last call (detached), which ``fit`` logs as
  ``loss/<name>`` columns of the history.
"""

from __future__ import annotations

import itertools
import numbers

import torch
from pyro.infer import ELBO

from ..lookup import get_estimator


class Loss:
    """Base class of composable objectives; subclasses implement ``__call__`` and ``name``.

    Recipe for a new loss: subclass, implement ``__call__(model, guide, *args, **kwargs)``
    returning a scalar summed over the batch, and give it a short ``name``. Override
    ``parameters`` (state trained with the model) or the ``adversary_*`` trio (a second player)
    where it has them.
    """

    name = "loss"
    #: Discriminator steps per model step; 0 for losses without an adversary.
    adversary_steps = 0
    #: Whether the loss scores the model's likelihood (an ELBO); implicit models have none.
    needs_likelihood = False
    #: Options the loss asks of the model's Adam optimizer (a GAN's betas), applied by ``fit``.
    optimizer_options: dict = {}

    def __call__(self, model, guide, *args, **kwargs) -> torch.Tensor:
        raise NotImplementedError

    @property
    def __name__(self) -> str:  # ``fit`` names the objective after this
        return self.name

    @property
    def last_parts(self) -> dict[str, torch.Tensor]:
        """Each named term's detached value at the last call; a single loss has none."""
        return {}

    def parameters(self):
        return iter(())

    def adversary_parameters(self):
        return iter(())

    def adversary_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} has no adversary")

    def adversary_optimizer(self, lr: float) -> torch.optim.Optimizer:
        """The adversary's optimizer, given the model's learning rate."""
        return torch.optim.Adam(list(self.adversary_parameters()), lr=lr)

    def set_max_plate_nesting(self, max_plate_nesting: int) -> None:
        """Tell ELBO terms the model's plate nesting (so that Pyro need not guess it)."""

    def set_data_plate(self, data_plate: str | None) -> None:
        """Tell per-datapoint estimators the plate over data points (found by ``fit``)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def to(self, device) -> Loss:
        return self

    # ----- arithmetic ------------------------------------------------------------------------
    def __add__(self, other) -> SumLoss:
        return SumLoss([self, as_loss(other)])

    def __radd__(self, other) -> SumLoss:
        return SumLoss([as_loss(other), self])

    def __mul__(self, weight) -> ScaledLoss:
        return ScaledLoss(self, weight)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class ELBOLoss(Loss):
    """An ELBO estimator as a composable term: a registered name (with options), a Pyro ``ELBO``
    or an estimator object. Its value is the negative ELBO summed over the batch."""

    needs_likelihood = True

    def __init__(self, estimator="trace", **options):

        if isinstance(estimator, str):
            self.name = estimator
            estimator = get_estimator(estimator, **options)
        elif options:
            raise ValueError("options go with an estimator name, not with an estimator object")
        else:
            self.name = getattr(estimator, "name", type(estimator).__name__)
        if isinstance(estimator, ELBO):
            if not hasattr(estimator, "differentiable_loss"):
                raise TypeError(
                    f"{type(estimator).__name__} has no differentiable_loss(); use the ppgen "
                    "estimator of the same name (see ppgen.inference.available_estimators())"
                )
            self._loss = estimator.differentiable_loss
        elif callable(estimator):
            self._loss = estimator
        else:
            raise TypeError(f"not an estimator: {estimator!r}")
        self.estimator = estimator

    def __call__(self, model, guide, *args, **kwargs):
        return self._loss(model, guide, *args, **kwargs)

    def set_max_plate_nesting(self, max_plate_nesting):
        inner = getattr(self.estimator, "elbo", None)  # enum and tracegraph wrap a Pyro ELBO
        for target in (self.estimator, inner):
            if getattr(target, "max_plate_nesting", None) not in (None, float("inf")):
                continue
            if isinstance(target, ELBO) and target.vectorize_particles:
                # Pyro counts the vectorized particle plate in an ELBO's max_plate_nesting
                # (ELBO.__init__ adds 1 for it), and puts that plate at -max_plate_nesting.
                target.max_plate_nesting = max_plate_nesting + (target.num_particles > 1)
            elif target is not None:
                target.max_plate_nesting = max_plate_nesting

    def set_data_plate(self, data_plate):
        if hasattr(self.estimator, "data_plate"):
            self.estimator.data_plate = data_plate

    def parameters(self):
        return getattr(self.estimator, "parameters", lambda: iter(()))()

    def state_dict(self):
        return self.estimator.state_dict() if hasattr(self.estimator, "state_dict") else {}

    def load_state_dict(self, state):
        if hasattr(self.estimator, "load_state_dict"):
            self.estimator.load_state_dict(state)


def elbo(estimator="trace", **options) -> ELBOLoss:
    """The negative ELBO of a registered estimator as a composable term, e.g.
    ``elbo("iwae", num_particles=5) + 10 * MMDLoss(site="z", target="prior")``."""
    return ELBOLoss(estimator, **options)


class FunctionLoss(Loss):
    """A plain callable ``loss(model, guide, *args, **kwargs)`` as a composable term."""

    def __init__(self, function):
        if not callable(function):
            raise TypeError(f"a loss term must be callable, got {function!r}")
        self.function = function
        self.name = getattr(function, "__name__", type(function).__name__)

    def __call__(self, model, guide, *args, **kwargs):
        return self.function(model, guide, *args, **kwargs)


def as_loss(term) -> Loss:
    """A :class:`Loss` for ``term``: a Loss as is, an estimator name or ELBO as :class:`ELBOLoss`,
    any other callable as :class:`FunctionLoss`."""
    if isinstance(term, Loss):
        return term
    if isinstance(term, (str, ELBO)):
        return ELBOLoss(term)
    if callable(term):
        return FunctionLoss(term)
    raise TypeError(
        f"cannot make a loss term of {term!r}: use an estimator name, a Pyro ELBO, a ppgen Loss "
        "or a callable loss(model, guide, x)"
    )


class ScaledLoss(Loss):
    """``weight * term``, with a constant non-negative weight."""

    def __init__(self, term, weight):
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise TypeError(f"a loss can be scaled by a number only, got {weight!r}")
        if not weight >= 0 or weight == float("inf"):
            raise ValueError(f"a loss weight must be finite and >= 0, got {weight!r}")
        self.term, self.weight = as_loss(term), float(weight)
        self.name = f"{self.weight:g}*{self.term.name}"

    def __call__(self, model, guide, *args, **kwargs):
        return self.weight * self.term(model, guide, *args, **kwargs)

    def adversary_loss(self, model, guide, *args, **kwargs):
        # The adversary's own objective is not scaled: the weight is the model's trade-off.
        return self.term.adversary_loss(model, guide, *args, **kwargs)

    @property
    def last_parts(self):
        return self.term.last_parts

    @property
    def adversary_steps(self):
        return self.term.adversary_steps

    @property
    def optimizer_options(self):
        return self.term.optimizer_options

    @property
    def needs_likelihood(self):
        return self.term.needs_likelihood

    def parameters(self):
        return self.term.parameters()

    def adversary_parameters(self):
        return self.term.adversary_parameters()

    def adversary_optimizer(self, lr):
        return self.term.adversary_optimizer(lr)

    def set_max_plate_nesting(self, max_plate_nesting):
        self.term.set_max_plate_nesting(max_plate_nesting)

    def set_data_plate(self, data_plate):
        self.term.set_data_plate(data_plate)

    def state_dict(self):
        return self.term.state_dict()

    def load_state_dict(self, state):
        self.term.load_state_dict(state)

    def to(self, device):
        self.term.to(device)
        return self


class SumLoss(Loss):
    """The sum of several terms, each evaluated on the same batch."""

    def __init__(self, terms):
        flat = []
        for term in terms:
            term = as_loss(term)
            flat.extend(term.terms if isinstance(term, SumLoss) else [term])
        self.terms = flat
        self.name = " + ".join(t.name for t in flat)
        adversarial = [t.name for t in flat if t.adversary_steps]
        if len(adversarial) > 1:
            raise ValueError(
                f"a loss can have one adversarial term, got {len(adversarial)}: "
                + ", ".join(adversarial)
            )
        self._parts: dict[str, torch.Tensor] = {}

    def __call__(self, model, guide, *args, **kwargs):
        values = [term(model, guide, *args, **kwargs) for term in self.terms]
        self._parts = {}
        for term, value in zip(self.terms, values):
            self._parts[_unique(term.name, self._parts)] = value.detach()
        return torch.stack(values).sum()

    @property
    def last_parts(self):
        return self._parts

    @property
    def adversary_steps(self):
        return max((t.adversary_steps for t in self.terms), default=0)

    @property
    def optimizer_options(self):
        return {k: v for t in self.terms for k, v in t.optimizer_options.items()}

    @property
    def needs_likelihood(self):
        return any(t.needs_likelihood for t in self.terms)

    def parameters(self):
        return itertools.chain.from_iterable(t.parameters() for t in self.terms)

    def adversary_parameters(self):
        return itertools.chain.from_iterable(t.adversary_parameters() for t in self.terms)

    def adversary_loss(self, model, guide, *args, **kwargs):
        return self._adversarial_term().adversary_loss(model, guide, *args, **kwargs)

    def adversary_optimizer(self, lr):
        return self._adversarial_term().adversary_optimizer(lr)

    def _adversarial_term(self) -> Loss:
        (term,) = [t for t in self.terms if t.adversary_steps]
        return term

    def set_max_plate_nesting(self, max_plate_nesting):
        for term in self.terms:
            term.set_max_plate_nesting(max_plate_nesting)

    def set_data_plate(self, data_plate):
        for term in self.terms:
            term.set_data_plate(data_plate)

    def state_dict(self):
        return {"terms": [t.state_dict() for t in self.terms]}

    def load_state_dict(self, state):
        for term, term_state in zip(self.terms, state["terms"]):
            term.load_state_dict(term_state)

    def to(self, device):
        for term in self.terms:
            term.to(device)
        return self


def _unique(name: str, taken) -> str:
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}#{k}", k + 1
    return candidate
