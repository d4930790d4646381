"""The training step: the model's and the adversary's optimizer steps.

:class:`Stepper` owns the optimizers (:mod:`.optimizers`) of the parameters that
:func:`~ppgen.training.parameters.discover_parameters` found, and runs one step, from a checked
TorchScript trace of the objective where the plan compiles it (:mod:`ppgen.training.compiled`),
else eagerly.
In a data-parallel run it starts every rank from rank 0's values and sums each step's weighted
gradients over ranks before clipping and stepping (:mod:`ppgen.training.distributed.sync`).
"""

from __future__ import annotations

from contextlib import nullcontext

import pyro
import torch

from .compiled import CompiledObjective
from .distributed.ranks import ONE_PROCESS
from .distributed.sync import broadcast_tensors, sum_gradients
from .optimizers import OPTIMIZERS, make_schedule
from .settings import FitSettings


class Stepper:
    """The optimizers of the model (and of an adversary) and one step of each."""

    def __init__(
        self,
        objective,
        model_fn,
        guide_fn,
        parameters,
        settings: FitSettings,
        total_steps: int,
        compiled: bool,
        ranks=ONE_PROCESS,
    ):
        self.objective, self.model_fn, self.guide_fn = objective, model_fn, guide_fn
        self.parameters = parameters
        self.ranks = ranks
        #: The context each loss runs in (the exact-equivalence test mode's noise, set per step).
        self.noise = nullcontext()
        self.clip_norm = settings.clip_norm
        name, lr, total = settings.optimizer, settings.lr, total_steps
        # A loss may ask for optimizer settings (a GAN's Adam betas); they apply to Adam-type only.
        extra = objective.optimizer_options if name in ("adam", "adamw") else {}
        self.optimizer = OPTIMIZERS[name](parameters, lr=lr, **extra)
        self.schedule = make_schedule(self.optimizer, settings.lr_schedule, total)
        self.adversary_optimizer = self.adversary_schedule = None
        if objective.adversary_steps:
            # The second player has its own parameters and optimizer; neither optimizer ever
            # steps the other's parameters.
            adversary = list(objective.adversary_parameters())
            if not any(p.requires_grad for p in adversary):
                raise ValueError(f"the adversary of {objective.name} has no trainable parameters")
            own = {id(p) for p in parameters}
            if any(id(p) in own for p in adversary):
                raise ValueError("the adversary shares parameters with the model or guide")
            self.adversary_parameters = [p for p in adversary if p.requires_grad]
            self.adversary_optimizer = objective.adversary_optimizer(lr)
            self.adversary_schedule = make_schedule(
                self.adversary_optimizer, settings.lr_schedule, total
            )
        self.compiled_objective = (
            CompiledObjective(objective, model_fn, guide_fn, parameters) if compiled else None
        )
        # Every rank starts from rank 0's values (lazily created parameters were drawn per rank).
        broadcast_tensors(ranks, [*parameters, *getattr(self, "adversary_parameters", [])])

    @property
    def compiled(self) -> bool:
        return self.compiled_objective is not None and self.compiled_objective.compiled

    def loss(self, args, kwargs) -> torch.Tensor:
        # Pyro's validation (site shapes, supports, NaN warnings) already ran when the
        # parameters were discovered; per step it costs host syncs and Python time, and
        # non-finite values are caught on log steps instead.
        with pyro.validation_enabled(False), self.noise:
            if self.compiled_objective is not None:
                return self.compiled_objective(*args, **kwargs)
            return self.objective(self.model_fn, self.guide_fn, *args, **kwargs)

    def model_step(self, args, kwargs, normalizer: float) -> torch.Tensor:
        """One optimizer step on the loss per data point; returns that loss (device tensor).
        ``args is None``: this rank has no rows in the step (it still takes part in the sum)."""
        self.optimizer.zero_grad(set_to_none=True)
        if args is None:
            value = self.parameters[0].new_zeros(())
        else:
            value = self.loss(args, kwargs) / normalizer
            value.backward()
        sum_gradients(self.ranks, self.parameters)
        if self.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.parameters, self.clip_norm)
        self.optimizer.step()
        self.schedule.step()
        return value

    def adversary_step(self, args, kwargs, normalizer: float) -> torch.Tensor:
        self.adversary_optimizer.zero_grad(set_to_none=True)
        if args is None:  # no rows on this rank in this step
            value = self.adversary_parameters[0].new_zeros(())
        else:
            with pyro.validation_enabled(False), self.noise:  # as in loss()
                value = self.objective.adversary_loss(self.model_fn, self.guide_fn, *args, **kwargs)
            value = value / normalizer
            value.backward()
        sum_gradients(self.ranks, self.adversary_parameters)
        self.adversary_optimizer.step()
        return value.detach()

    def state(self) -> dict:
        return {
            "objective": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "adversary_optimizer": self.adversary_optimizer
            and self.adversary_optimizer.state_dict(),
            "adversary_schedule": self.adversary_schedule and self.adversary_schedule.state_dict(),
        }

    def load(self, state: dict) -> None:
        if state["objective"] is not None:
            self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.adversary_optimizer is not None:
            self.adversary_optimizer.load_state_dict(state["adversary_optimizer"])
            self.adversary_schedule.load_state_dict(state["adversary_schedule"])
