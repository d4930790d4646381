"""The training state that a checkpoint holds, and resuming from it.

Everything needed to continue a run as if it had never stopped: module parameters, ``pyro.param``
values, the optimizers' and schedules' state (:class:`~ppgen.inference.step.Stepper`), every
random-number generator, the step, the position in the epoch's order, the training time and the
history. Files are written atomically by :mod:`ppgen.inference.checkpoint`.
"""

from __future__ import annotations

from pathlib import Path

import pyro

from .checkpoint import check_same_settings, load_checkpoint, save_checkpoint
from .random_state import get_random_state, set_random_state


class TrainingState:
    """Where a run stands: ``step``, ``train_time`` and the rows of the history so far."""

    def __init__(self, path, settings: dict, modules, param_names, stepper, order, generator):
        self.path = None if path is None else Path(path)
        self.settings, self.modules, self.param_names = settings, modules, param_names
        self.stepper, self.order, self.generator = stepper, order, generator
        self.step, self.train_time, self.rows = 0, 0.0, []

    def resume(self) -> bool:
        """Load the checkpoint if it exists (its settings must match); whether it did."""
        if self.path is None or not self.path.exists():
            return False
        # Loaded on the CPU: RNG states must stay there; parameters and optimizer state are
        # copied onto their own devices by load_state_dict.
        state = load_checkpoint(self.path, map_location="cpu")
        check_same_settings(state["settings"], self.settings, self.path)
        for module, module_state in zip(self.modules, state["modules"]):
            module.load_state_dict(module_state)
        for name, value in state["params"].items():
            # In place, so that the optimizer keeps pointing at the same tensors.
            pyro.param(name).unconstrained().data.copy_(value)
        self.stepper.load(state)
        set_random_state(state["rng"])
        self.generator.set_state(state["generator"])
        self.order.load(state)
        self.step, self.train_time, self.rows = state["step"], state["train_time"], state["history"]
        return True

    def save(self, rows: list) -> None:
        save_checkpoint(
            self.path,
            {
                "settings": self.settings,
                "modules": [m.state_dict() for m in self.modules],
                "params": {n: pyro.param(n).unconstrained().detach() for n in self.param_names},
                **self.stepper.state(),
                "rng": get_random_state(),
                "generator": self.generator.get_state(),
                "step": self.step,
                **self.order.state(),
                "train_time": self.train_time,
                "history": rows,
            },
        )

    def last_good(self) -> str:
        """Where the last good checkpoint is, for a divergence message ('' if none)."""
        if self.path is None or not self.path.exists():
            return ""
        saved = load_checkpoint(self.path)["step"]
        return f" The last good checkpoint (step {saved}) is kept at {self.path}."
